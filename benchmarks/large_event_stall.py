"""How late another thread's 1 ms sleep wakes while the export thread handles one large event.

The export thread parses a manual event's data and encodes the envelope in single C
calls that hold the GIL throughout, so every other thread of the process waits for
them. This script ends one event of ``--bytes`` of data (a manual event, or an
auto-captured call span with a large sequence attribute) while a ticker thread sleeps
1 ms in a loop, and reports how much later than asked the ticker's worst sleep woke,
beside the same figure with no event at all. The ticker runs only while the export
thread works: the event waits in the queue (a long batch delay) until a flush, and the
application's own ``dispatch_event`` call, which encodes the data on its thread, is over
before the ticker starts.

    python benchmarks/large_event_stall.py --bytes 1000000 --kind manual
    python benchmarks/large_event_stall.py --bytes 63000000 --kind auto
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "services"))

from discarding import DiscardEvents
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from eventlog_instrument import EventLogInstrumentor, dispatch_event
from eventlog_instrument.calls import new_call

_TICK = 0.001


class Ticker:
    """Sleeps 1 ms again and again on its own thread, keeping the latest wake-up."""

    def __init__(self) -> None:
        self.worst_late = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Ticker:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            asked = time.perf_counter()
            time.sleep(_TICK)
            self.worst_late = max(self.worst_late, time.perf_counter() - asked - _TICK)


def end_event(kind: str, size: int) -> None:
    if kind == "manual":
        dispatch_event("large", {"blob": "x" * size})
        return
    call = new_call("bench", "Rpc", "large")
    span = trace.get_tracer("bench").start_span("large", kind=SpanKind.SERVER,
                                                 attributes=call.attributes())
    span.set_attribute("items", ("x" * 4000,) * (size // 4003 + 1))
    span.end()


def worst_late_ms(kind: str, size: int) -> float:
    """The ticker's latest wake-up while the export thread handles one event of ``size``."""
    if size:
        end_event(kind, size)
    with Ticker() as ticker:
        if size:
            assert EventLogInstrumentor().force_flush(120_000)
        else:
            time.sleep(0.2)
    return ticker.worst_late * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bytes", type=int, default=1_000_000)
    parser.add_argument("--kind", choices=("manual", "auto"), default="manual")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    EventLogInstrumentor().instrument(exporters=[DiscardEvents()], service_name="bench",
                                      bsp_schedule_delay=600_000)
    idle = [worst_late_ms(args.kind, 0) for _ in range(args.repeats)]
    loaded = [worst_late_ms(args.kind, args.bytes) for _ in range(args.repeats)]
    [processor] = EventLogInstrumentor().processors
    print(f"{args.kind} event of {args.bytes:,} bytes, {args.repeats} runs: another thread's "
          f"1 ms sleep woke late by median {statistics.median(loaded):.1f} ms, "
          f"worst {max(loaded):.1f} ms (no event: median {statistics.median(idle):.1f} ms, "
          f"worst {max(idle):.1f} ms); {processor.exported} exported, "
          f"{processor.dropped} dropped")


if __name__ == "__main__":
    main()
