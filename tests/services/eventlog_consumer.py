"""An unchanged Nameko ``@event_handler`` consumer of the event log, run with ``nameko run``.

It appends every body it receives, as a JSON line, to ``$CONSUMER_OUTPUT``.
"""

import json
import os

from nameko.events import event_handler

SOURCE_SERVICE = os.environ["CONSUMER_SOURCE_SERVICE"]
EVENT_TYPE = os.environ.get("CONSUMER_EVENT_TYPE", "log_event")
OUTPUT = os.environ["CONSUMER_OUTPUT"]


class EventLogConsumer:
    name = "eventlog_consumer"

    @event_handler(SOURCE_SERVICE, EVENT_TYPE)
    def handle(self, body):
        with open(OUTPUT, "a", encoding="utf-8") as output:
            output.write(json.dumps(body) + "\n")
