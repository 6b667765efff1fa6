"""The package's sampler decides as the SDK composition it stands for."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    SamplingResult,
    StaticSampler,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState

from eventlog_instrument.sampling import RECORD_EVERY_CALL

_RECORD_ONLY = StaticSampler(Decision.RECORD_ONLY)
SDK_COMPOSITION = ParentBased(
    ALWAYS_ON, remote_parent_not_sampled=_RECORD_ONLY, local_parent_not_sampled=_RECORD_ONLY
)


def parent(remote: bool, sampled: bool) -> Context:
    span_context = SpanContext(
        0x1234, 0x5678, is_remote=remote,
        trace_flags=TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT),
        trace_state=TraceState([("vendor", "value")]),
    )
    return trace.set_span_in_context(NonRecordingSpan(span_context))


PARENTS = {
    "none": None,
    "empty context": Context(),
    "remote sampled": parent(remote=True, sampled=True),
    "remote not sampled": parent(remote=True, sampled=False),
    "local sampled": parent(remote=False, sampled=True),
    "local not sampled": parent(remote=False, sampled=False),
    "a span of no context": trace.set_span_in_context(NonRecordingSpan(None)),
}


def described(result: SamplingResult) -> tuple[object, ...]:
    return result.decision, dict(result.attributes), result.trace_state


@pytest.mark.parametrize("attributes", [None, {}, {"tenant": "acme"}])
@pytest.mark.parametrize("parent_name", PARENTS)
def test_decides_as_parent_based_always_on_recording_the_unsampled(
    parent_name: str, attributes: dict[str, str] | None
) -> None:
    context = PARENTS[parent_name]
    ours = RECORD_EVERY_CALL.should_sample(context, 0x99, "GET /", SpanKind.SERVER, attributes)
    sdk = SDK_COMPOSITION.should_sample(context, 0x99, "GET /", SpanKind.SERVER, attributes)
    assert described(ours) == described(sdk)


def test_spans_of_an_unsampled_caller_are_recorded_and_keep_its_flag_and_trace_state() -> None:
    tracer = TracerProvider(sampler=RECORD_EVERY_CALL).get_tracer("test")
    span = tracer.start_span("work", context=PARENTS["remote not sampled"], attributes={"a": 1})
    assert span.is_recording()
    assert span.get_span_context().trace_flags.sampled is False
    assert span.get_span_context().trace_state == TraceState([("vendor", "value")])
    assert span.attributes == {"a": 1}
    root = tracer.start_span("root")
    assert root.is_recording() and root.get_span_context().trace_flags.sampled
