"""Spans ended straight through the SDK, as an instrumentor would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def instrumented_call(service_name: str, entrypoint: str = "work") -> Iterator[str]:
    """Run the block as an instrumented call of ``service_name``, as an instrumentor makes
    one; yields its call id."""
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    from eventlog_instrument.calls import new_call, start_call_span
    from eventlog_instrument.instrumentors.hooks import begin_call, end_call

    identity = new_call(service_name, "Rpc", entrypoint)
    span = start_call_span(trace.get_tracer("tests"), entrypoint, identity.attributes(),
                           kind=SpanKind.SERVER)
    token = begin_call(span)
    try:
        yield identity.call_id
    finally:
        end_call(span, token)


def assert_ending_calls_never_waits(service_name: str, exporter: Any, count: int = 1000) -> None:
    """End ``count`` call spans while ``exporter``'s delivery is held inside it (on top of
    whatever its unreachable broker does): each is queued all the same, because the
    application's thread never waits for an exporter. Holding the delivery with a gate,
    rather than timing the spans, makes that a fact the test can check."""
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    from eventlog_instrument import EventLogInstrumentor
    from eventlog_instrument.calls import new_call
    from tests.support.waiting import wait_until

    [processor] = [p for p in EventLogInstrumentor().processors if p.exporter is exporter]
    entered, gate = threading.Event(), threading.Event()
    deliver = exporter.deliver

    def held_deliver(events: Any, timeout: float) -> Any:
        entered.set()
        gate.wait()
        return deliver(events, timeout)

    exporter.deliver = held_deliver
    tracer = trace.get_tracer("tests")

    def end_calls(number: int) -> None:
        for _ in range(number):
            call = new_call(service_name, "Rpc", "m")
            tracer.start_span("m", kind=SpanKind.SERVER, attributes=call.attributes()).end()

    def on_a_thread(number: int) -> threading.Thread:
        # not on the test's own thread: a span end that waited would hang it for good
        ender = threading.Thread(target=end_calls, args=(number,), daemon=True)
        ender.start()
        return ender

    try:
        on_a_thread(1)
        wait_until(entered.is_set, 30, "the export thread to start delivering")
        ender = on_a_thread(count)
        wait_until(lambda: not ender.is_alive(), 60, f"{count:,} calls to end on their thread")
        assert processor.accepted == count + 1 and processor.dropped == 0
    finally:
        gate.set()
