"""An unchanged Nameko ``@event_handler`` consumer of the event log, run with ``nameko run``.

It handles ``$CONSUMER_EVENT_TYPE`` events of each service in ``$CONSUMER_SOURCE_SERVICES``
(a comma list) and appends every body it receives, as a JSON line, to
``$CONSUMER_OUTPUT``.
"""

import json
import os

from nameko.events import event_handler

SOURCE_SERVICES = os.environ["CONSUMER_SOURCE_SERVICES"].split(",")
EVENT_TYPE = os.environ.get("CONSUMER_EVENT_TYPE", "log_event")
OUTPUT = os.environ["CONSUMER_OUTPUT"]


def _handler(source):
    @event_handler(source, EVENT_TYPE)
    def handle(self, body):
        with open(OUTPUT, "a", encoding="utf-8") as output:
            output.write(json.dumps(body) + "\n")

    handle.__name__ = f"handle_{source.replace('-', '_')}"
    return handle


EventLogConsumer = type(
    "EventLogConsumer",
    (),
    {"name": "eventlog_consumer", **{h.__name__: h for h in map(_handler, SOURCE_SERVICES)}},
)
