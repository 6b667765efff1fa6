"""Keys and the package's own ``data._truncated`` in oversized events (review 2,
findings 6 and 7): the event is cut to fit, never lost."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from eventlog_instrument import EventLogInstrumentor
from eventlog_instrument.calls import new_call
from eventlog_instrument.envelope import TRUNCATED_KEY, SpanRecord, build_event
from tests.test_hostile_data import built, ended_call, strict_loads

tracer = trace.get_tracer("tests")


def test_a_50_000_character_key_is_cut_at_the_value_limit_and_the_event_kept(pipeline):
    memory = pipeline(max_value_length=100, max_event_bytes=20_000)
    with tracer.start_as_current_span("m", kind=SpanKind.SERVER,
                                      attributes=new_call("svc", "Rpc", "m").attributes()) as span:
        span.set_attribute("k" * 50_000, 1)
        span.set_attribute("eventlog.data." + "d" * 50_000, "x")
        span.set_attribute("tenant", "acme")
    [envelope] = memory.wait_for(1)
    assert envelope["k" * 100] == 1 and envelope["data"]["d" * 100] == "x"
    assert envelope["tenant"] == "acme"
    assert envelope["data"][TRUNCATED_KEY] == ["k" * 100, "data." + "d" * 100]
    assert EventLogInstrumentor().processors[0].dropped == 0


def test_a_long_key_inside_a_mapping_value_is_cut_and_named():
    envelope = built(ended_call(nested={"n" * 500: 1}), max_value_length=100)
    assert envelope["nested"] == {"n" * 100: 1}
    assert envelope["data"][TRUNCATED_KEY] == ["nested"]


def test_keys_over_the_event_bound_are_shortened_when_emptying_values_is_not_enough():
    span = ended_call(**{"a" * 30_000: "v", "tenant": "acme"})
    event = build_event(SpanRecord.of(span), max_value_length=50_000, max_event_bytes=20_000)
    assert event is not None and len(event.body) <= 20_000
    envelope = strict_loads(event.body)
    [long_key] = [key for key in envelope if key.startswith("a")]
    assert 1_000 < len(long_key) < 10_000 and envelope[long_key] in ("v", "")
    assert envelope["tenant"] == "acme" and envelope["data"][TRUNCATED_KEY] == [long_key]


def test_a_user_truncated_attribute_does_not_pose_as_the_package_list(pipeline):
    memory = pipeline(max_value_length=4000, max_event_bytes=20_000)
    for user_value in ("user", ("x", "y")):
        with tracer.start_as_current_span(
                "m", kind=SpanKind.SERVER,
                attributes=new_call("svc", "Rpc", "m").attributes()) as span:
            span.set_attribute("eventlog.data._truncated", user_value)
            for n in range(10):
                span.set_attribute(f"m{n}", "v" * 3000)
    envelopes = memory.wait_for(2)
    for envelope in envelopes:
        cut = envelope["data"][TRUNCATED_KEY]
        assert cut and all(name.startswith("m") for name in cut)
    assert len(memory.raw_events[0].body) <= 20_000
    assert EventLogInstrumentor().processors[0].dropped == 0


def test_a_user_truncated_attribute_is_not_exported_when_nothing_was_cut():
    assert TRUNCATED_KEY not in built(ended_call(**{"eventlog.data._truncated": "user"}))["data"]
