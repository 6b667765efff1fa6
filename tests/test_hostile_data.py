"""Hostile data in events: any attribute value OpenTelemetry accepts, oversized events,
and credentials quoted in the free text the package captures (issue 12, items 1, 13, 14).

Every body must be strict JSON in valid UTF-8, within EVENTLOG_MAX_EVENT_BYTES, every
text at most EVENTLOG_MAX_VALUE_LENGTH, and the event must be produced, not lost.
"""

from __future__ import annotations

import json
import re
import textwrap
import uuid
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode

from eventlog_instrument import EventLogInstrumentor, dispatch_event
from eventlog_instrument import constants as c
from eventlog_instrument.calls import new_call
from eventlog_instrument.envelope import TRUNCATED_KEY, SpanRecord, build_event, envelope_json
from eventlog_instrument.scrubbing import DEFAULT_SCRUBBER, Scrubber, luhn_valid
from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.waiting import free_port, port_open, wait_until
from tests.test_launcher import Launched

tracer = trace.get_tracer("tests")
provider = TracerProvider()


def strict_loads(body: bytes) -> Any:
    """The body as a strict JSON reader takes it: UTF-8, no NaN or Infinity."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(body.decode("utf-8"), parse_constant=refuse)


def ended_call(**attributes: Any) -> ReadableSpan:
    """A call span, ended, with ``attributes`` set through the real SDK."""
    call = new_call("svc", "Rpc", "m")
    span = provider.get_tracer("t").start_span("m", kind=SpanKind.SERVER,
                                               attributes=call.attributes())
    for key, value in attributes.items():
        span.set_attribute(key, value)
    span.end()
    return span


def built(span: ReadableSpan, **options: Any) -> dict[str, Any]:
    event = build_event(SpanRecord.of(span), **options)
    assert event is not None
    envelope = strict_loads(event.body)
    assert envelope == event.envelope
    return envelope


# Item 14: attribute values OpenTelemetry accepts.


def test_a_bytes_attribute_becomes_text_and_the_event_is_not_lost(pipeline, caplog):
    memory = pipeline()
    with tracer.start_as_current_span("m", kind=SpanKind.SERVER,
                                      attributes=new_call("svc", "Rpc", "m").attributes()) as span:
        span.set_attribute("payload", b"caf\xc3\xa9 \xff!")
        span.set_attribute("chunks", (b"ok", b"\x00\x80"))
    [envelope] = memory.wait_for(1)
    assert envelope["payload"] == "café \\xff!"
    assert envelope["chunks"] == ["ok", "\x00\\x80"]
    strict_loads(memory.raw_events[0].body)
    assert EventLogInstrumentor().processors[0].dropped == 0
    assert "Traceback" not in caplog.text


def test_nan_and_infinity_at_any_depth_become_text():
    envelope = built(ended_call(scores={"a": float("nan"), "b": [float("-inf"), 1.5]}))
    assert envelope["scores"] == {"a": "nan", "b": ["-inf", 1.5]}


def test_long_text_inside_a_mapping_or_sequence_is_cut_and_named():
    span = ended_call(nested={"note": "x" * 5000, "deeper": {"more": ["y" * 5000]}},
                      plain=("z" * 5000,))
    envelope = built(span, max_value_length=4096)
    assert envelope["nested"] == {"note": "x" * 4096, "deeper": {"more": ["y" * 4096]}}
    assert envelope["plain"] == ["z" * 4096]
    assert envelope["data"][TRUNCATED_KEY] == ["nested", "plain"]


def test_a_lone_surrogate_becomes_the_replacement_character():
    envelope = built(ended_call(half="a\ud800b", pair="\ud83d\ude00", listed=("\udfff",)))
    assert (envelope["half"], envelope["pair"], envelope["listed"]) == ("a\ufffdb", "😀", ["\ufffd"])


@pytest.mark.parametrize("args", [
    ("odd_text", {"name": "x\ud800y"}),
    ("odd_text", None, {"tag": "\udc00"}),
    ("odd_text", {"\ud800": 1}),
])
def test_a_manual_event_with_a_lone_surrogate_is_a_value_error_at_the_call(pipeline, args):
    memory = pipeline()
    with pytest.raises(ValueError, match="not valid Unicode"):
        dispatch_event(*args)
    dispatch_event("after")
    assert [envelope["event_type"] for envelope in memory.wait_for(1)] == ["after"]
    strict_loads(memory.raw_events[0].body)


def test_ints_beyond_64_bits_become_text_and_other_numbers_stay_numbers():
    huge = 10**5000
    envelope = built(ended_call(big=2**64, small=-(2**63), huge=huge, zero=-0.0,
                                holes=(None, 1, None)), max_value_length=10_000)
    assert (envelope["big"], envelope["small"]) == (str(2**64), -(2**63))
    assert envelope["huge"] == hex(huge)
    assert envelope["zero"] == 0.0 and str(envelope["zero"]) == "-0.0"
    assert envelope["holes"] == [None, 1, None]


def test_the_envelope_encoder_is_strict():
    with pytest.raises(ValueError):
        envelope_json({"x": float("nan")})


def test_an_event_that_cannot_be_strict_json_is_a_clear_error_counted_as_dropped(pipeline):
    memory = pipeline()
    identity = new_call("svc", "Rpc", "m").attributes()
    span = ReadableSpan(name="forged", kind=SpanKind.SERVER, start_time=1, end_time=2, attributes={
        **identity, c.ATTR_EVENT_TYPE: "forged", c.ATTR_EVENT_DATA: '{"score": NaN}',
    })
    with pytest.raises(ValueError, match=r"^the forged event of svc is not strict JSON: "):
        build_event(SpanRecord.of(span))
    [processor] = EventLogInstrumentor().processors
    processor.on_end(span)
    assert EventLogInstrumentor().force_flush(10_000)
    assert (processor.dropped, memory.events) == (1, [])


# Item 1: an auto-captured event over EVENTLOG_MAX_EVENT_BYTES is cut, largest first.


def test_an_oversized_event_has_its_largest_values_cut_until_it_fits(pipeline):
    memory = pipeline(max_event_bytes=20_000)
    span = tracer.start_span("m", kind=SpanKind.SERVER,
                             attributes=new_call("svc", "Rpc", "m").attributes())
    span.set_attribute("tenant", "acme")
    span.set_attribute("history", ("h" * 4000,) * 10)
    span.set_attribute("recent", ("r" * 4000,) * 3)
    span.set_attribute("eventlog.data.note", "n" * 4000)
    span.end()
    [envelope] = memory.wait_for(1)
    assert len(memory.raw_events[0].body) <= 20_000
    assert envelope["history"] == []
    assert envelope["recent"] == ["r" * 4000] * 3 and envelope["tenant"] == "acme"
    assert envelope["data"]["note"] == "n" * 4000
    assert envelope["data"][TRUNCATED_KEY] == ["history"]


def test_an_oversized_text_is_shortened_not_dropped():
    span = ended_call(story="é" * 30_000, tenant="acme")
    event = build_event(SpanRecord.of(span), max_value_length=50_000, max_event_bytes=20_000)
    assert event is not None and 19_000 < len(event.body) <= 20_000
    envelope = strict_loads(event.body)
    assert envelope["story"] and set(envelope["story"]) == {"é"}
    assert envelope["tenant"] == "acme" and envelope["data"][TRUNCATED_KEY] == ["story"]


def test_a_63_mb_sequence_attribute_gives_an_event_within_the_default_bound():
    span = ended_call(items=("x" * 4000,) * 16_000, tenant="acme")
    event = build_event(SpanRecord.of(span))
    assert event is not None and len(event.body) <= 1_000_000
    envelope = strict_loads(event.body)
    assert envelope["tenant"] == "acme" and envelope["data"][TRUNCATED_KEY] == ["items"]
    assert 200 < len(envelope["items"]) < 250 and set(envelope["items"]) == {"x" * 4000}


def test_an_event_whose_identity_alone_is_too_large_is_left_whole_for_the_pipeline():
    span = provider.get_tracer("official").start_span("n" * 30_000, kind=SpanKind.SERVER)
    span.set_attribute("tenant", "acme")
    span.end()
    event = build_event(SpanRecord.of(span), default_service_name="svc", max_value_length=50_000,
                        max_event_bytes=20_000)
    assert event is not None and len(event.body) > 20_000
    assert event.envelope["tenant"] == "acme" and TRUNCATED_KEY not in event.envelope["data"]


# Item 13: credentials in the free text the package captured.

QUOTED_SECRETS = ("refused Bearer abc.def and Basic dXNlcjpwYXNz for card 4111 1111 1111 1111 "
                  "via amqp://u:p4ss@h// with key sk_live_abc123")
SCRUBBED = "refused Bearer *** and Basic *** for card *** via amqp://u:***@h// with key ***"


@pytest.mark.parametrize(("text", "expected"), [
    ("auth: Bearer abc.def-_~+/x==", "auth: Bearer ***"),
    ("BEARER t0k3n", "BEARER ***"),
    ("Basic dXNlcjpwYXNz", "Basic ***"),
    ("Basic setup failed", "Basic setup failed"),
    ("amqp://user:pa:ss/w@host:5672//", "amqp://user:***@host:5672//"),
    ("redis://:pw@cache", "redis://:***@cache"),
    ("http://host:8080/path and https://example.com/@me", None),
    ("card 4111 1111 1111 1111 expired", "card *** expired"),
    ("card 5500-0000-0000-0004", "card ***"),
    ("paid 4111111111111111 12 times", "paid *** 12 times"),
    ("paid 4111 1111 1111 1111 12 times", "paid *** 12 times"),
    ("order 4111111111111112", None),
    ("trace 12345678901234567890123", None),
])
def test_the_scrubber_masks_credentials_and_keeps_other_text(text, expected):
    assert DEFAULT_SCRUBBER.scrub(text) == (text if expected is None else expected)


def test_luhn_check_tells_card_numbers_from_other_numbers():
    assert luhn_valid("4111111111111111") and luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")


def test_user_patterns_join_the_built_in_ones_whatever_their_groups_or_flags():
    scrubber = Scrubber((re.compile(r"sk_live_\w+"), re.compile(r"(?i)pin=\d+"),
                         re.compile(r"(otp)-(\d+)")))
    assert scrubber.scrub("sk_live_x PIN=1234 otp-99 Bearer t") == "*** *** *** Bearer ***"


def test_captured_free_text_is_scrubbed_and_user_data_is_not(pipeline):
    memory = pipeline(scrub_patterns=r"sk_live_\w+")
    span = tracer.start_span("m", kind=SpanKind.SERVER,
                             attributes=new_call("svc", "Rpc", "m").attributes())
    span.set_attribute("note", QUOTED_SECRETS)
    span.set_attribute("eventlog.data.retry_reason", "retry after Bearer abc.def")
    span.set_attribute("eventlog.data.expected_error_message", "no route amqp://u:p4ss@h//")
    span.set_attribute("eventlog.data.request_headers", ("X-Note: Basic dXNlcjpwYXNz",))
    span.record_exception(RuntimeError(QUOTED_SECRETS))
    span.set_status(Status(StatusCode.ERROR))
    span.end()
    dispatch_event("quoted", {"text": QUOTED_SECRETS})
    fired, manual = sorted(memory.wait_for(2), key=lambda e: e["event_type"])
    data = fired["data"]
    assert data["error_message"] == SCRUBBED
    assert data["retry_reason"] == "retry after Bearer ***"
    assert data["expected_error_message"] == "no route amqp://u:***@h//"
    assert data["request_headers"] == ["X-Note: Basic ***"]
    assert fired["note"] == QUOTED_SECRETS and manual["data"] == {"text": QUOTED_SECRETS}


def test_a_credential_across_the_length_limit_is_still_masked():
    span = ended_call(**{"eventlog.data.retry_reason": "x" * 95 + " Bearer " + "t" * 500})
    envelope = built(span, max_value_length=100)
    assert envelope["data"]["retry_reason"] == "x" * 95 + " Bear"
    assert "t" not in envelope["data"]["retry_reason"]
    span = ended_call(**{"eventlog.data.retry_reason": "x" * 89 + " Bearer " + "t" * 500})
    assert built(span, max_value_length=100)["data"]["retry_reason"] == "x" * 89 + " Bearer ***"


HOSTILE_APP = '''
from flask import Flask

app = Flask("hostile")


@app.get("/pay")
def pay():
    raise RuntimeError({secrets!r})
'''


def test_flask_under_the_launcher_exports_no_credential_from_an_error_or_header(tmp_path, rabbitmq):
    (tmp_path / "hostile_app.py").write_text(textwrap.dedent(
        HOSTILE_APP.format(secrets=QUOTED_SECRETS)))
    service = f"hostile{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    port = free_port()
    program = Launched(
        ["gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "hostile_app:app"], tmp_path,
        PYTHONPATH=str(tmp_path), EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=AMQP_URI,
        EVENTLOG_SERVICE_NAME=service, EVENTLOG_BSP_SCHEDULE_DELAY="20",
        EVENTLOG_CAPTURE_REQUEST_HEADERS="X-Auth,X-Note", EVENTLOG_SCRUB_PATTERNS=r"sk_live_\w+",
    )
    try:
        program.wait_for(lambda: port_open("127.0.0.1", port), f"gunicorn on {port}")
        response = requests.get(f"http://127.0.0.1:{port}/pay", timeout=10, headers={
            "X-Auth": "s3cr3t-value", "X-Note": "Bearer abc.def"})
        assert response.status_code == 500
        [message] = queue.read(1)
    finally:
        program.terminate()
        queue.close()
    body = message.body if isinstance(message.body, bytes) else message.body.encode()
    data = strict_loads(body)["data"]
    assert (data["error_type"], data["error_message"]) == ("RuntimeError", SCRUBBED)
    assert data["request_headers"] == ["X-Auth: ***", "X-Note: Bearer ***"]
    for secret in ("abc.def", "dXNlcjpwYXNz", "4111", "p4ss", "sk_live", "s3cr3t"):
        assert secret not in body.decode()
    wait_until(lambda: program.process.poll() is not None, 30, "gunicorn to exit")


# The standing hostile suite: any value OpenTelemetry accepts, through the real SDK.

LIMIT = 256
BOUND = 2500
hostile_text = st.text(
    st.characters() | st.sampled_from(["\ud800", "\udfff", "\ud83d", "\r", "\n", "\x00",
                                       '"', "\\", "é", "😀", "\u2028", "\ufeff"]),
    max_size=400,
)
scalars = (hostile_text | st.binary(max_size=300) | st.integers() | st.booleans()
           | st.floats(allow_nan=True, allow_infinity=True))
attribute_values = (
    scalars
    | st.lists(hostile_text, max_size=40)
    | st.lists(st.text(min_size=LIMIT - 50, max_size=LIMIT + 50), min_size=3, max_size=12)
    | st.lists(st.binary(max_size=40), max_size=5)
    | st.lists(st.integers() | st.none(), max_size=5) | st.lists(st.floats(), max_size=5)
    | st.lists(st.booleans(), max_size=5)
    | st.dictionaries(st.text(max_size=10), scalars | st.lists(scalars, max_size=5), max_size=4)
)
attribute_keys = st.text(min_size=1, max_size=20) | st.sampled_from([
    "eventlog.data.note", "eventlog.data.retry_reason", "eventlog.data.request_headers",
    "eventlog.data.expected_error_message",
])


def texts_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in texts_in(item)]
    if isinstance(value, dict):
        return [text for item in value.values() for text in texts_in(item)]
    return []


@settings(max_examples=300, deadline=None)
@given(attributes=st.dictionaries(attribute_keys, attribute_values, max_size=12),
       error=st.none() | hostile_text)
def test_any_attribute_values_give_a_strict_bounded_event(attributes, error):
    span = provider.get_tracer("t").start_span(
        "m", kind=SpanKind.SERVER, attributes=new_call("svc", "Rpc", "m").attributes())
    span.set_attributes(attributes)
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, error))
    span.end()
    event = build_event(SpanRecord.of(span), max_value_length=LIMIT, max_event_bytes=BOUND)
    assert event is not None
    assert len(event.body) <= BOUND
    envelope = strict_loads(event.body)
    for key, value in envelope.items():
        if key not in (c.CALL_ID, c.CALL_STACK):
            assert all(len(text) <= LIMIT for text in texts_in(value)), key
