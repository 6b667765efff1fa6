"""The envelope of SPEC §2, pinned by golden files, through the real pipeline."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timezone

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from eventlog_instrument import dispatch_event
from eventlog_instrument.calls import (
    CallIdentity,
    extend_call_stack,
    new_call,
    new_call_id,
    safe_name,
)
from eventlog_instrument.constants import CALL_STACK_LIMIT
from eventlog_instrument.envelope import SpanRecord, build_event, format_timestamp
from tests.support.goldens import assert_golden

OUTER = "gateway.checkout.9f1c3c5e-8a7b-4c1d-9e2f-3a4b5c6d7e8f"
CALL = "orders.place_order.1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b"
ORDERS_CALL = CallIdentity("orders", "Rpc", "place_order", CALL, (OUTER, CALL))
FIRED_AT_NS = int(datetime(2017, 6, 12, 13, 48, 16, 987654, tzinfo=timezone.utc).timestamp()) * 10**9 + 987_654_321

tracer = trace.get_tracer("tests")


def test_manual_event_inside_a_call_carries_the_call_identity(pipeline):
    memory = pipeline()
    data = {"order_id": 42, "items": [{"sku": "A-1", "qty": 2}], "gift": False, "note": None}
    metadata = {"tenant": "acme", "region": "eu-west-1"}
    data_before, metadata_before = copy.deepcopy(data), copy.deepcopy(metadata)

    with tracer.start_as_current_span(
        "place_order", kind=SpanKind.SERVER, attributes=ORDERS_CALL.attributes()
    ):
        dispatch_event("order_placed", data, metadata)
        manual = memory.wait_for(1)[0]

    assert_golden(manual, "manual_event_in_call")
    assert (data, metadata) == (data_before, metadata_before)


def test_manual_event_outside_a_call_is_a_standalone_call(pipeline):
    memory = pipeline(service_name="billing")
    dispatch_event("invoice_sent")
    event = memory.wait_for(1)[0]
    assert_golden(event, "manual_event_standalone")
    assert event["call_stack"] == [event["call_id"]]


def test_custom_span_attributes_become_metadata_and_reserved_ones_never_leak(pipeline):
    memory = pipeline()
    span = tracer.start_span(
        "place_order", kind=SpanKind.SERVER, attributes=ORDERS_CALL.attributes(),
        start_time=FIRED_AT_NS,
    )
    span.set_attribute("tenant", "acme")
    span.set_attribute("retries", 3)
    span.set_attribute("ratio", 0.5)
    span.set_attribute("priority_customer", True)
    span.set_attribute("tags", ("new", "mobile"))
    span.set_attribute("eventlog.internal_detail", "never exported")
    span.end(end_time=FIRED_AT_NS + 250_000_000)

    assert_golden(memory.wait_for(1)[0], "call_span_with_attributes")


def test_failed_call_reports_its_exception_in_data(pipeline):
    memory = pipeline()
    span = tracer.start_span(
        "place_order", kind=SpanKind.SERVER, attributes=ORDERS_CALL.attributes(),
        start_time=FIRED_AT_NS,
    )
    span.record_exception(KeyError("sku"))
    span.set_status(Status(StatusCode.ERROR, "KeyError"))
    span.end(end_time=FIRED_AT_NS + 12_500_000)

    assert_golden(memory.wait_for(1)[0], "call_span_error")


def test_metadata_overrides_identity_keys_but_never_timestamp_event_type_or_data(pipeline):
    memory = pipeline()
    metadata = {
        "service_name": "renamed-by-metadata",
        "call_stack": ["custom-stack"],
        "tenant": "acme",
        "timestamp": "1970-01-01T00:00:00+00:00",
        "event_type": "hijacked",
        "data": {"hijacked": True},
    }
    with tracer.start_as_current_span(
        "place_order", kind=SpanKind.SERVER, attributes=ORDERS_CALL.attributes()
    ):
        dispatch_event("order_placed", {"order_id": 42}, metadata)
    event = memory.wait_for(1)[0]

    assert_golden(event, "metadata_override")
    routing = memory.raw_events[0]
    assert (routing.service_name, routing.call_stack) == ("orders", (OUTER, CALL))


@pytest.mark.parametrize(
    ("precision", "expected"),
    [
        ("seconds", "2017-06-12T13:48:16+00:00"),
        ("milliseconds", "2017-06-12T13:48:16.987+00:00"),
        ("microseconds", "2017-06-12T13:48:16.987654+00:00"),
    ],
)
def test_timestamp_is_utc_with_offset_and_truncated(precision, expected):
    assert format_timestamp(FIRED_AT_NS, precision) == expected


def test_timestamp_precision_setting_reaches_the_envelope(pipeline):
    memory = pipeline(timestamp_precision="milliseconds")
    dispatch_event("tick")
    assert memory.wait_for(1)[0]["timestamp"].endswith("+00:00")
    assert len(memory.events[0]["timestamp"]) == len("2017-06-12T13:48:16.987+00:00")


def test_call_stack_keeps_the_newest_eleven_calls():
    stack: tuple[str, ...] = ()
    for hop in range(15):
        stack = extend_call_stack(stack, f"svc.m.{hop}")
    assert len(stack) == CALL_STACK_LIMIT == 11
    assert stack[0] == "svc.m.4" and stack[-1] == "svc.m.14"
    call = new_call("svc", "Rpc", "m", stack)
    assert call.call_stack[-1] == call.call_id and len(call.call_stack) == 11


def _provider_span(kind: SpanKind, name: str = "GET /orders") -> SpanRecord:
    provider = TracerProvider()
    span = provider.get_tracer("official").start_span(name, kind=kind, start_time=FIRED_AT_NS)
    span.set_attribute("http.request.method", "GET")
    span.end(end_time=FIRED_AT_NS + 1_000_000)
    return SpanRecord.of(span)


def test_server_span_from_another_instrumentation_becomes_an_event():
    span = _provider_span(SpanKind.SERVER)
    event = build_event(span, default_service_name="gateway")
    assert event is not None
    envelope = event.envelope
    assert envelope["entrypoint_protocol"] == "Server"
    assert envelope["entrypoint_name"] == "GET /orders"
    assert envelope["call_stack"] == [envelope["call_id"]]
    assert envelope["call_id"].startswith(f"{safe_name(envelope['service_name'])}.GET__orders.")
    assert envelope["http.request.method"] == "GET"
    assert envelope["event_type"] == "entrypoint_fired"
    assert build_event(span, default_service_name="gateway").envelope["call_id"] == envelope["call_id"]
    assert json.loads(event.body) == envelope


def test_internal_span_from_another_instrumentation_is_not_an_event():
    assert build_event(_provider_span(SpanKind.INTERNAL)) is None
    assert build_event(_provider_span(SpanKind.CLIENT)) is None


def test_non_finite_attribute_values_still_give_valid_json(pipeline):
    memory = pipeline()
    span = tracer.start_span("m", kind=SpanKind.SERVER, attributes=ORDERS_CALL.attributes())
    span.set_attribute("score", float("nan"))
    span.set_attribute("limit", float("inf"))
    span.end()
    memory.wait_for(1)
    body = memory.raw_events[0].body.decode()
    assert json.loads(body)["score"] == "nan" and json.loads(body)["limit"] == "inf"
    assert "NaN" not in body and "Infinity" not in body



def test_call_ids_end_in_a_random_version_4_uuid():
    seen = set()
    for _ in range(500):
        service, entrypoint, text = new_call_id("orders", "place_order").split(".", 2)
        parsed = uuid.UUID(text)
        assert (service, entrypoint, str(parsed)) == ("orders", "place_order", text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        seen.add(text)
    assert len(seen) == 500


def test_a_call_stack_given_as_a_list_is_kept_whole():
    from opentelemetry.sdk.trace import ReadableSpan

    span = ReadableSpan(
        name="place_order", kind=SpanKind.SERVER, start_time=1, end_time=2,
        attributes={
            "eventlog.service_name": "orders", "eventlog.entrypoint_protocol": "Rpc",
            "eventlog.entrypoint_name": "place_order", "eventlog.call_id": CALL,
            "eventlog.call_stack": [OUTER, CALL],
        },
    )
    event = build_event(SpanRecord.of(span))
    assert event is not None
    assert (event.call_stack, event.envelope["call_stack"]) == ((OUTER, CALL), [OUTER, CALL])
