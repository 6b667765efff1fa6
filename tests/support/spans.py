"""Spans ended straight through the SDK, as an instrumentor would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


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


def assert_ending_calls_never_waits(service_name: str, count: int = 1000) -> None:
    """End ``count`` call spans on this thread; the whole run stays well under a second."""
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    from eventlog_instrument.calls import new_call

    tracer = trace.get_tracer("tests")
    started = time.perf_counter()
    for _ in range(count):
        call = new_call(service_name, "Rpc", "m")
        tracer.start_span("m", kind=SpanKind.SERVER, attributes=call.attributes()).end()
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"{count:,} spans took {elapsed:.3f}s with the broker unreachable"
