"""A Nameko service whose workers log, and log from a greenthread they spawn
(tests/test_logs_workers.py)."""

import logging
import os

import eventlet
from nameko.rpc import rpc

from eventlog_instrument import EventLogDispatcher

log = logging.getLogger("logsvc")
_started: set[str] = set()


class Chatty:
    name = os.environ["SERVICE_NAME"]

    @rpc
    def chatty(self, tag, rounds):
        """Logs ``rounds`` records here and as many from a greenthread, once two calls
        run at once (so their records interleave)."""
        _started.add(tag)
        for _ in range(500):
            if len(_started) >= 2:
                break
            eventlet.sleep(0.01)

        def helper():
            for number in range(rounds):
                log.warning("%s greenthread %d", tag, number)
                eventlet.sleep(0.005)

        spawned = eventlet.spawn(helper)
        for number in range(rounds):
            log.warning("%s worker %d", tag, number)
            eventlet.sleep(0.005)
        spawned.wait()
        return tag


class DropInChatty:
    """The drop-in dispatcher's service: its envelopes stay nameko-eventlog-dispatcher's."""

    name = os.environ["SERVICE_NAME"]
    eventlog_dispatcher = EventLogDispatcher()

    @rpc
    def warn(self):
        log.warning("a warning inside a drop-in service's call")
        return "warned"
