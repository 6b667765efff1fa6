"""A Nameko service that floods the exporter, to measure the hub while it exports."""

import os

from nameko.rpc import rpc

from eventlog_instrument import EventLogInstrumentor, dispatch_event

EventLogInstrumentor().instrument()


class Flood:
    name = os.environ["SERVICE_NAME"]

    @rpc
    def echo(self, value):
        return value

    @rpc
    def flood(self, count):
        for number in range(count):
            dispatch_event("flood", {"n": number})
        return count

    @rpc
    def exporter_backlog(self):
        return sum(len(p._queue) + len(p._pending) for p in EventLogInstrumentor().processors)
