"""The hand-made transport API: ``call_headers()`` on the sending side and
``continued_call(...)`` on the receiving side, in process and over a real Tansu broker
between a kafka-python producer and a consumer loop run by ``eventlog-instrument``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kafka import KafkaProducer
from opentelemetry import trace

from eventlog_instrument import call_headers, continued_call
from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.paths import TESTS

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
PARENT_STACK = "gateway.checkout.0b8c1c1e-6a4e-4f0e-9b5e-2d1f1f2c3b4a"
NAMES = {"service": "billing", "entrypoint_protocol": "KafkaConsumer", "entrypoint_name": "orders"}


def test_headers_outside_any_call_are_empty(pipeline):
    pipeline()
    assert call_headers() == {}


def test_headers_inside_a_call_carry_its_stack_and_trace(pipeline):
    memory = pipeline()
    with continued_call({"X-Call-Stack": PARENT_STACK, "traceparent": TRACEPARENT}, **NAMES):
        sent = call_headers()
    [event] = memory.wait_for(1)
    assert set(sent) == {"X-Call-Stack", "traceparent"}
    assert sent["X-Call-Stack"] == ",".join(event["call_stack"])
    assert sent["traceparent"].split("-")[1] == TRACE_ID


def test_a_call_its_caller_did_not_sample_makes_its_events_and_passes_the_flag_on(pipeline):
    memory = pipeline()
    not_sampled = f"00-{TRACE_ID}-00f067aa0ba902b7-00"
    with continued_call({"X-Call-Stack": PARENT_STACK, "traceparent": not_sampled}, **NAMES):
        sent = call_headers()
        with trace.get_tracer("tests").start_as_current_span("db"):
            inner = call_headers()
    [event] = memory.wait_for(1)
    assert event["call_stack"] == [PARENT_STACK, event["call_id"]]
    assert event["data"]["trace_id"] == TRACE_ID
    assert sent["traceparent"].endswith("-00") and inner["traceparent"].endswith("-00")


@pytest.mark.parametrize("headers", [
    {"X-Call-Stack": PARENT_STACK, "traceparent": TRACEPARENT},
    {"x-call-stack": PARENT_STACK.encode(), "TRACEPARENT": TRACEPARENT.encode()},
    [("x-call-stack", PARENT_STACK.encode()), ("traceparent", TRACEPARENT.encode())],
    {"x-call-stack": [PARENT_STACK], "traceparent": TRACEPARENT},
], ids=["str-mapping", "bytes-mapping", "kafka-pairs", "stack-as-list"])
def test_a_received_call_continues_the_senders_stack_and_trace(pipeline, headers):
    memory = pipeline()
    with continued_call(headers, **NAMES):
        pass
    [event] = memory.wait_for(1)
    assert event["event_type"] == "entrypoint_fired"
    assert (event["service_name"], event["entrypoint_protocol"], event["entrypoint_name"]) == (
        "billing", "KafkaConsumer", "orders")
    assert event["call_id"].startswith("billing.orders.")
    assert event["call_stack"] == [PARENT_STACK, event["call_id"]]
    assert event["data"]["trace_id"] == TRACE_ID
    assert event["data"]["outcome"] == "ok"


@pytest.mark.parametrize("headers", [
    None,
    [],
    {"X-Call-Stack": "évil.call.1", "traceparent": "00-zz-yy-01"},
    {"X-Call-Stack": b"\xff\xfe", "traceparent": b"\x00" * 100_000},
    {"X-Call-Stack": "a.b.c\r\nSet-Cookie: x=1", "traceparent": 42},
    {"X-Call-Stack": "x" * 1_000_000},
    [("x-call-stack",), b"junk", ("traceparent", None), (None, "x"), (1, 2)],
    {"X-Call-Stack": ["ok.id.1", 7]},
], ids=["none", "empty", "non-ascii", "undecodable", "crlf", "huge", "junk-pairs", "bad-list"])
def test_hostile_headers_start_a_fresh_call(pipeline, headers):
    memory = pipeline()
    ran = []
    with continued_call(headers, **NAMES):
        ran.append(True)
    [event] = memory.wait_for(1)
    assert ran == [True]
    assert event["call_stack"] == [event["call_id"]]
    assert event["data"]["trace_id"] != TRACE_ID


def test_an_error_is_recorded_and_reraised_unchanged(pipeline):
    memory = pipeline()
    raised = KeyError("no such order")
    with pytest.raises(KeyError) as caught, continued_call(None, **NAMES):
        raise raised
    assert caught.value is raised
    [event] = memory.wait_for(1)
    assert event["data"]["outcome"] == "error"
    assert event["data"]["error_type"] == "KeyError"


@pytest.mark.parametrize("bad", [None, "", 7])
def test_names_must_be_given_as_text(pipeline, bad):
    pipeline()
    with (pytest.raises(TypeError, match="entrypoint_name must be a non-empty str"),
          continued_call(None, **{**NAMES, "entrypoint_name": bad})):
        pass


def test_uninstrumented_the_block_runs_and_headers_are_empty():
    with continued_call({"X-Call-Stack": PARENT_STACK}, **NAMES):
        assert call_headers() == {}


def test_kafka_consumer_loop_continues_the_producers_call(tansu, pipeline, tmp_path: Path):
    memory = pipeline(service_name="shop")
    topic = f"orders-{uuid.uuid4().hex[:8]}"
    consumer_service = f"billing{uuid.uuid4().hex[:8]}"
    events = BoundQueue(consumer_service)
    producer = KafkaProducer(bootstrap_servers=[tansu])
    try:
        with continued_call(None, service="shop", entrypoint_protocol="Script",
                            entrypoint_name="checkout"):
            headers = [(name, value.encode()) for name, value in call_headers().items()]
            for value in (b"order-1", b"boom"):
                producer.send(topic, value, headers=headers, partition=0)
            producer.flush(timeout=30)
        [checkout] = memory.wait_for(1)

        loop = subprocess.run(
            [str(Path(sys.executable).parent / "eventlog-instrument"), sys.executable,
             "kafka_orders.py", tansu, topic, "2", consumer_service],
            cwd=TESTS / "apps", capture_output=True, text=True, timeout=60,
            env={**os.environ, "EVENTLOG_EXPORTERS": "amqp", "EVENTLOG_AMQP_URI": AMQP_URI},
        )
        assert loop.returncode == 0, loop.stderr[-3000:]
        assert loop.stdout.splitlines() == ["same exception"]

        received = [json.loads(message.body) for message in events.read(3)]
        assert events.rest(0.5) == []
    finally:
        producer.close()
        events.close()
    fired = [e for e in received if e["event_type"] == "entrypoint_fired"]
    [seen] = [e for e in received if e["event_type"] == "order_seen"]
    assert len(fired) == 2
    for event in fired:
        assert event["call_stack"] == [checkout["call_id"], event["call_id"]]
        assert event["data"]["trace_id"] == checkout["data"]["trace_id"]
    assert sorted(e["data"]["outcome"] for e in fired) == ["error", "ok"]
    assert seen["call_id"] in {e["call_id"] for e in fired}
    assert seen["data"] == {"order": "order-1"}
    assert trace.get_current_span() is trace.INVALID_SPAN
