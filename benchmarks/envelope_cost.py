"""Span-to-envelope cost per event, and peak memory under a 100,000-event burst.

The cost is measured on one thread, for a realistic call span (identity, a custom
attribute and four instrumentor data keys): taking the compact record at the span's
end (on the application thread) and building the envelope with its JSON (on the
export thread). The burst runs in a fresh process: 100,000 call spans ended as fast as
one thread can, exported by an exporter that drops what it gets, with the default
queue; it reports the peak RSS above the process's RSS before the burst.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BURST = r'''
import resource, sys, time
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from discarding import DiscardEvents
from eventlog_instrument import EventLogInstrumentor
from eventlog_instrument.calls import new_call

EventLogInstrumentor().instrument(exporters=[DiscardEvents()], service_name="bench")
tracer = trace.get_tracer("bench")
def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
before = rss_kib()
started = time.perf_counter()
for number in range(int(sys.argv[1])):
    call = new_call("bench", "Rpc", "place_order", ("gateway.checkout.1",))
    span = tracer.start_span("place_order", kind=SpanKind.SERVER, attributes=call.attributes())
    span.set_attribute("tenant", "acme")
    span.end()
burst = time.perf_counter() - started
assert EventLogInstrumentor().force_flush(120_000)
[processor] = EventLogInstrumentor().processors
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(burst, (peak - before) / 1024, processor.exported, processor.dropped)
'''


def envelope_cost(events: int, repeats: int) -> tuple[float, float]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind

    from eventlog_instrument.calls import new_call
    from eventlog_instrument.envelope import SpanRecord, build_event

    tracer = TracerProvider().get_tracer("bench")
    spans = []
    for _ in range(events):
        call = new_call("bench", "Flask", "place_order", ("gateway.checkout.1",))
        span = tracer.start_span("place_order", kind=SpanKind.SERVER, attributes=call.attributes())
        span.set_attributes({
            "tenant": "acme", "eventlog.data.method": "POST", "eventlog.data.status_code": 201,
            "eventlog.data.route": "/orders/<int:order_id>", "eventlog.data.retries": 0,
        })
        span.end()
        spans.append(span)
    record_times, build_times = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        records = [SpanRecord.of(span) for span in spans]
        record_times.append((time.perf_counter() - started) / events)
        started = time.perf_counter()
        for record in records:
            build_event(record)
        build_times.append((time.perf_counter() - started) / events)
    return statistics.median(record_times) * 1e6, statistics.median(build_times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--burst", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    record_us, build_us = envelope_cost(args.events, args.repeats)
    output = subprocess.run(
        [sys.executable, "-c", BURST, str(args.burst)], capture_output=True, text=True,
        check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parent / "services")},
    ).stdout.split()
    burst_seconds, peak_mib = float(output[0]), float(output[1])
    exported, dropped = output[2], output[3]
    print(f"Span to envelope, median of {args.repeats} runs of {args.events} call spans:\n")
    print("| step | µs per event | thread |")
    print("|---|---|---|")
    print(f"| compact record at span end | {record_us:.1f} | application |")
    print(f"| envelope and JSON | {build_us:.1f} | export |")
    print(f"\nBurst of {args.burst:,} call spans from one thread in {burst_seconds:.2f} s "
          f"(default queue of 16,384): peak RSS +{peak_mib:.0f} MiB, {exported} exported, "
          f"{dropped} dropped and counted.")


if __name__ == "__main__":
    main()
