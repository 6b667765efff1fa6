"""The Django instrumentor: the ``djshop`` project (with Django REST framework) served by
gunicorn (2 workers) under ``eventlog-instrument``, driven over HTTP, every event read
back from RabbitMQ. One server for the whole module."""

from __future__ import annotations

import json
import uuid

import pytest
import requests

from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.goldens import assert_golden
from tests.support.processes import ServerProcess
from tests.support.waiting import free_port
from tests.test_launcher import LAUNCHER, launcher_env

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_CALL = "gateway.checkout.1"


@pytest.fixture(scope="module")
def shop(tmp_path_factory, rabbitmq):
    service = f"django{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    port = free_port()
    server = ServerProcess(
        [LAUNCHER, "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--graceful-timeout", "10",
         "djshop.wsgi:application"],
        port, tmp_path_factory.mktemp("django"),
        {"EVENTLOG_EXPORTERS": "amqp", "EVENTLOG_AMQP_URI": AMQP_URI, "EVENTLOG_SERVICE_NAME": service,
         "EVENTLOG_BSP_SCHEDULE_DELAY": "20", "EVENTLOG_DJANGO_EXCLUDED_URLS": "^/health/$",
         "EVENTLOG_CAPTURE_REQUEST_HEADERS": "User-Agent,Authorization"},
        base_env=launcher_env(), ready_within=60,
    )
    yield server, queue
    server.stop()
    queue.close()


@pytest.fixture
def drained(shop):
    """The module's server and queue, the queue empty when the test starts."""
    server, queue = shop
    assert queue.rest(0.2) == [], "a previous test left events behind"
    return server, queue


def call(server, method: str, path: str, **headers: str) -> requests.Response:
    return requests.request(method, server.url + path, headers={"User-Agent": "golden-test", **headers},
                            timeout=10)


def envelopes(queue: BoundQueue, count: int) -> list[dict]:
    return [json.loads(message.body) for message in queue.read(count)]


def fired(events: list[dict], name: str) -> dict:
    [event] = [e for e in events if e["entrypoint_name"] == name and e["event_type"] == "entrypoint_fired"]
    return event


def test_exact_envelopes_for_each_kind_of_view(drained):
    server, queue = drained
    ok = call(server, "GET", "/orders/42/", **{"X-Call-Stack": PARENT_CALL, "Authorization": "Bearer s3cr3t"},
              traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01")
    assert ok.json() == {"id": 42}
    assert call(server, "GET", "/reports/").json() == {"report": "ok"}
    assert call(server, "GET", "/api/items/2/").json() == {"id": 2, "name": "pear"}
    assert call(server, "GET", "/api/items/").json() == ["apple", "pear"]
    assert call(server, "GET", "/boom/").status_code == 500
    assert call(server, "GET", "/missing/").status_code == 404
    assert call(server, "POST", "/reports/").status_code == 405
    assert call(server, "GET", "/api/items/9/").status_code == 404
    streamed = call(server, "GET", "/stream/")
    assert streamed.text == "0\n1\n2\n"
    assert call(server, "GET", "/download/").text == "line one\nline two\n"

    events = envelopes(queue, 11)  # ten requests and the order view's own event
    assert_golden(fired(events, "order-detail"), "django/function_view")
    found, not_found = sorted((e for e in events if e["entrypoint_name"] == "ItemViewSet.retrieve"),
                              key=lambda e: e["data"]["status_code"])
    assert_golden(found, "django/viewset")
    assert_golden(not_found, "django/viewset_not_found")
    assert_golden(fired(events, "ItemViewSet.list"), "django/viewset_list")
    assert_golden(fired(events, "boom"), "django/error")
    assert_golden(fired(events, "unmatched"), "django/not_found")
    assert_golden(fired(events, "stream"), "django/stream")
    assert_golden(fired(events, "download"), "django/file")
    reports = sorted((e for e in events if e["entrypoint_name"] == "djshop.views.ReportView"),
                     key=lambda e: e["data"]["method"])
    assert_golden(reports[0], "django/class_based_view")
    assert_golden(reports[1], "django/method_not_allowed")
    assert fired(events, "stream")["data"]["duration_ms"] >= 150, "the span ends with the stream"
    assert "s3cr3t" not in json.dumps(events)
    assert queue.rest(0.3) == []


def test_call_stack_and_trace_continue_and_the_call_id_comes_back(drained):
    server, queue = drained
    response = call(server, "GET", "/orders/7/", **{"X-Call-Stack": f"outer.call.0, {PARENT_CALL}"},
                    traceparent=f"00-{TRACE_ID}-00f067aa0ba902b7-01")
    events = envelopes(queue, 2)
    request_event = fired(events, "order-detail")
    [manual] = [e for e in events if e["event_type"] == "order_viewed"]
    assert response.headers["X-Call-Id"] == request_event["call_id"]
    assert request_event["call_stack"] == ["outer.call.0", PARENT_CALL, request_event["call_id"]]
    assert request_event["data"]["trace_id"] == TRACE_ID
    assert manual["call_stack"] == request_event["call_stack"]
    assert manual["data"] == {"order_id": 7}


@pytest.mark.parametrize("bad", ["", " , ", "a b,c", "x" * 600, "a,,b", "caf\u00e9.x.1"])
def test_malformed_call_stack_header_starts_a_fresh_stack(drained, bad):
    import http.client

    server, queue = drained
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.putrequest("GET", "/reports/")
    connection.putheader("X-Call-Stack", bad.encode("utf-8"))
    connection.putheader("traceparent", "00-zz-yy-01")
    connection.endheaders()
    answer = connection.getresponse()
    assert (answer.status, answer.read()) == (200, b'{"report": "ok"}')
    connection.close()
    [event] = envelopes(queue, 1)
    assert event["call_stack"] == [event["call_id"]]
    assert answer.getheader("X-Call-Id") == event["call_id"]


def test_excluded_url_has_no_event_and_no_call_id(drained):
    server, queue = drained
    health = call(server, "GET", "/health/")
    assert health.text == "ok" and "X-Call-Id" not in health.headers
    call(server, "GET", "/reports/")
    [event] = envelopes(queue, 1)
    assert event["entrypoint_name"] == "djshop.views.ReportView"
    assert queue.rest(0.3) == []
