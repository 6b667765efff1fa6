"""The Flask instrumentor: a real app under gunicorn (2 workers), driven over HTTP."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from eventlog_instrument import EventLogInstrumentor
from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.goldens import assert_golden

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_CALL = "gateway.checkout.1"


@pytest.fixture
def shop(gunicorn, rabbitmq):
    service = f"flask{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    server = gunicorn(
        "flask_app:app",
        EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=AMQP_URI, EVENTLOG_SERVICE_NAME=service,
        EVENTLOG_BSP_SCHEDULE_DELAY="20", EVENTLOG_FLASK_EXCLUDED_URLS="^/health$",
        EVENTLOG_CAPTURE_REQUEST_HEADERS="User-Agent,Authorization",
    )
    yield server, queue
    queue.close()


def get(server, path: str, **headers: str) -> requests.Response:
    return requests.get(server.url + path, headers={"User-Agent": "golden-test", **headers}, timeout=10)


def envelopes(queue: BoundQueue, count: int) -> list[dict]:
    return [json.loads(message.body) for message in queue.read(count)]


def fired(events: list[dict], name: str) -> dict:
    [event] = [e for e in events if e["entrypoint_name"] == name and e["event_type"] == "entrypoint_fired"]
    return event


def test_exact_envelopes_for_200_404_405_500_and_a_stream(shop):
    server, queue = shop
    ok = get(
        server, "/orders/42", **{"X-Call-Stack": PARENT_CALL, "Authorization": "Bearer s3cr3t"},
        traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01",
    )
    assert ok.json() == {"id": 42}
    assert get(server, "/missing").status_code == 404
    assert get(server, "/only-post").status_code == 405
    assert get(server, "/boom").status_code == 500
    streamed = get(server, "/stream")
    assert streamed.text == "0\n1\n2\n"

    events = envelopes(queue, 6)
    assert_golden(fired(events, "get_order"), "flask/ok")
    assert_golden(fired(events, "unmatched"), "flask/not_found")
    assert_golden(fired(events, "only_post"), "flask/method_not_allowed")
    assert_golden(fired(events, "boom"), "flask/error")
    assert_golden(fired(events, "stream"), "flask/stream")
    assert fired(events, "stream")["data"]["duration_ms"] >= 150, "the span ends with the stream"
    assert "s3cr3t" not in json.dumps(events)


def test_call_stack_and_trace_continue_and_the_call_id_comes_back(shop):
    server, queue = shop
    response = get(
        server, "/orders/7", **{"X-Call-Stack": f"outer.call.0, {PARENT_CALL}"},
        traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01",
    )
    events = envelopes(queue, 2)
    request_event = fired(events, "get_order")
    [manual] = [e for e in events if e["event_type"] == "order_viewed"]
    assert response.headers["X-Call-Id"] == request_event["call_id"]
    assert request_event["call_stack"] == ["outer.call.0", PARENT_CALL, request_event["call_id"]]
    assert request_event["data"]["trace_id"] == TRACE_ID
    assert manual["call_stack"] == request_event["call_stack"]
    assert manual["data"] == {"order_id": 7}


def test_a_request_its_caller_did_not_sample_still_makes_every_event(shop):
    """Upstream tracing samples (``traceparent`` flag 00): the SDK's default sampler would
    drop the span, and its events with it, uncounted."""
    server, queue = shop
    get(server, "/orders/7", traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-00")
    events = envelopes(queue, 2)
    assert {event["event_type"] for event in events} == {"entrypoint_fired", "order_viewed"}
    assert {event["data"].get("trace_id") for event in events} == {TRACE_ID, None}


@pytest.mark.parametrize("bad", ["", " , ", "a b,c", "x" * 600, "a,,b"])
def test_malformed_call_stack_header_starts_a_fresh_stack(shop, bad):
    import http.client

    server, queue = shop
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", "/orders/1", headers={"X-Call-Stack": bad, "traceparent": "00-zz-yy-01"})
    assert connection.getresponse().status == 200
    connection.close()
    event = fired(envelopes(queue, 2), "get_order")
    assert event["call_stack"] == [event["call_id"]]


def test_excluded_url_has_no_event(shop):
    server, queue = shop
    assert get(server, "/health").text == "ok"
    get(server, "/orders/3")
    events = envelopes(queue, 2)
    assert {e["entrypoint_name"] for e in events} == {"get_order"}
    assert queue.rest(0.5) == []


def test_an_excluded_url_written_with_its_non_ascii_path_is_excluded(pipeline):
    import flask

    memory = pipeline(service_name="excluded", flask_excluded_urls="^/caf\u00e9$")
    app = flask.Flask("excluded")
    app.add_url_rule("/caf\u00e9", "coffee", lambda: "coffee")
    app.add_url_rule("/tea", "tea", lambda: "tea")
    client = app.test_client()
    assert client.get("/caf\u00e9").text == "coffee"
    assert client.get("/tea").text == "tea"
    assert [event["entrypoint_name"] for event in memory.wait_for(1)] == ["tea"]
    EventLogInstrumentor().force_flush(5_000)
    assert len(memory.events) == 1, "the excluded path made an event"


def test_failure_before_the_url_is_matched_is_still_one_event_named_unmatched(pipeline):
    import flask
    from flask.sessions import SecureCookieSessionInterface
    from opentelemetry import trace

    class BrokenSessions(SecureCookieSessionInterface):
        def open_session(self, app, request):
            raise RuntimeError("session store down")

        def save_session(self, app, session, response):
            return None

    memory = pipeline(service_name="early")
    app = flask.Flask("early")
    app.session_interface = BrokenSessions()

    @app.get("/orders/<int:order_id>")
    def get_order(order_id):
        return "never"

    response = app.test_client().get("/orders/1")
    response.close()
    assert response.status_code == 500
    [event] = memory.wait_for(1)
    assert (event["entrypoint_name"], event["call_id"]) == ("unmatched", response.headers["X-Call-Id"])
    data = event["data"]
    assert (data["status_code"], data["outcome"], data["error_type"]) == (500, "error", "RuntimeError")
    assert data["error_message"] == "session store down"
    assert "route" not in data
    assert trace.get_current_span() is trace.INVALID_SPAN, "the request's span stayed current"


def test_the_configured_propagators_headers_continue_the_trace(pipeline, demo_propagator):
    import flask

    memory = pipeline(service_name="propagated")
    app = flask.Flask("propagated")

    @app.get("/orders/<int:order_id>")
    def get_order(order_id):
        return "ok"

    response = app.test_client().get("/orders/1", headers={"X-Demo-Trace": TRACE_ID})
    response.close()
    [event] = memory.wait_for(1)
    assert event["data"]["trace_id"] == TRACE_ID
