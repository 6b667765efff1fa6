"""An RPC echo service for round-trip benchmarks; instrumented when $BENCH_INSTRUMENT is set."""

import os

from nameko.rpc import rpc

if os.environ.get("BENCH_INSTRUMENT"):
    from eventlog_instrument import EventLogInstrumentor

    EventLogInstrumentor().instrument()


class Echo:
    name = os.environ["BENCH_SERVICE"]

    @rpc
    def echo(self, value):
        return value

    @rpc
    def stats(self):
        if not os.environ.get("BENCH_INSTRUMENT"):
            return {}
        processors = EventLogInstrumentor().processors
        return {
            "exported": sum(p.exported for p in processors),
            "dropped": sum(p.dropped for p in processors),
        }
