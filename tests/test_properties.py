"""Property-based tests of what applications hand the package: any mix of types."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from eventlog_instrument import dispatch_event
from eventlog_instrument.calls import parse_call_stack
from eventlog_instrument.constants import CALL_STACK_LIMIT
from eventlog_instrument.envelope import TRUNCATED_KEY, SpanRecord, build_event, envelope_json
from eventlog_instrument.events import encode_json_object

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
not_json = (
    st.sets(st.integers(), min_size=1, max_size=2)
    | st.binary(min_size=1, max_size=4)
    | st.just(float("nan"))
    | st.just(float("inf"))
    | st.builds(object)
    | st.dictionaries(st.integers() | st.tuples(st.integers()), st.integers(), min_size=1, max_size=2)
)
anything = st.recursive(
    json_scalars | not_json,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


def normalised(value):
    """What JSON gives back: tuples become lists."""
    if isinstance(value, (list, tuple)):
        return [normalised(item) for item in value]
    if isinstance(value, dict):
        return {key: normalised(item) for key, item in value.items()}
    return value


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_json_data_round_trips_exactly(data):
    assert json.loads(encode_json_object("event_data", data)) == normalised(data)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_envelope_json_is_exactly_the_stdlib_compact_json(envelope):
    assert envelope_json(envelope) == json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


@settings(max_examples=300, deadline=None)
@given(anything)
def test_anything_else_is_a_clear_type_or_value_error_never_another_exception(value):
    try:
        encoded = encode_json_object("event_data", value)
    except (TypeError, ValueError) as error:
        assert str(error).startswith("event_data")
    else:
        decoded = json.loads(encoded)
        assert isinstance(decoded, dict)
        assert "NaN" not in encoded and "Infinity" not in encoded


def test_deep_nesting_is_an_error_not_a_crash():
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["next"] = {}
        node = node["next"]
    with pytest.raises(ValueError) as raised:
        dispatch_event("deep", deep)
    assert str(raised.value) == "event_data is nested more than 100 levels deep"


attribute_values = (
    st.text(max_size=6000)
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.lists(st.text(max_size=5000), max_size=3)
    | st.lists(st.floats(), max_size=3)
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=20), attribute_values, max_size=8))
def test_any_span_attributes_give_valid_json_with_long_texts_cut(attributes):
    provider = TracerProvider()
    identity = {
        "eventlog.service_name": "svc", "eventlog.entrypoint_protocol": "Rpc",
        "eventlog.entrypoint_name": "m", "eventlog.call_id": "svc.m.1",
        "eventlog.call_stack": ("svc.m.1",),
    }
    span = provider.get_tracer("t").start_span("m", kind=SpanKind.SERVER, attributes=identity)
    span.set_attributes(attributes)
    span.end()
    event = build_event(SpanRecord.of(span), max_value_length=4096)
    assert event is not None
    envelope = json.loads(event.body)
    for key, value in envelope.items():
        if isinstance(value, str) and key not in ("call_id", "timestamp"):
            assert len(value) <= 4096
    if any(isinstance(v, str) and len(v) > 4096 for v in attributes.values()):
        assert envelope["data"][TRUNCATED_KEY]
    for value in envelope.values():
        if isinstance(value, float):
            assert math.isfinite(value)


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_any_incoming_call_stack_header_parses_or_starts_fresh(header):
    stack = parse_call_stack(header)
    assert isinstance(stack, tuple) and len(stack) <= CALL_STACK_LIMIT - 1
    for call_id in stack:
        assert call_id and " " not in call_id and call_id.isprintable() and "," not in call_id
