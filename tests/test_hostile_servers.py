"""Hostile input against real servers: Flask under gunicorn and ``flask run`` (launched by
``eventlog-instrument``), a Celery prefork worker, ``nameko run`` (an ``@http`` service
compared with and without the launcher), and user span limits.

The Flask tests compare raw responses (read from a socket, so nothing normalises them)
of the same app served instrumented and uninstrumented.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import celery_app
import pytest

from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.processes import ServerProcess
from tests.support.waiting import free_port, port_open, wait_until
from tests.test_launcher import LAUNCHER, launcher_env

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
SAFE_CALL_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}\.[A-Za-z0-9_.-]{1,100}\." + UUID)
VALID_STACK = ",".join(f"caller{n}.method.{uuid.UUID(int=n)}" for n in range(160))
HOSTILE_REQUESTS = {
    "crlf-in-path": (b"/x%0d%0aSet-Cookie:%20session=attacker", b""),
    "non-latin-1-path": (b"/%E6%97%A5%E6%9C%AC", b""),
    "raw-utf8-path": ("/日本".encode(), b""),
    "8k-path": (b"/" + b"z" * 8192, b""),
    "8k-call-stack": (b"/orders/1", b"X-Call-Stack: " + VALID_STACK.encode()[:7900] + b"\r\n"),
    "control-call-stack": (b"/orders/2", b"X-Call-Stack: a\x01b,c\r\n"),
    "latin-1-call-stack": (b"/orders/3", "X-Call-Stack: gw.ø.1\r\n".encode("latin-1")),
    "huge-traceparent": (b"/orders/4", b"traceparent: 00-" + b"f" * 7000 + b"\r\n"),
    "bad-traceparent": (b"/orders/5", b"traceparent: 00-zz-yy-01\r\ntracestate: =,=\x7f\r\n"),
    "ok": (b"/orders/6", b"X-Call-Stack: gw.checkout.1\r\n"),
}


def raw_exchange(port: int, path: bytes, headers: bytes) -> bytes:
    request = b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"Connection: close\r\n\r\n"
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def split_response(raw: bytes) -> tuple[bytes, list[tuple[bytes, bytes]], bytes, list[bytes]]:
    """Status line, headers but Date and X-Call-Id, body, and the X-Call-Id values."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n") if head else [b""]
    headers, call_ids = [], []
    for line in lines:
        name, _, value = line.partition(b":")
        if name.lower() == b"x-call-id":
            call_ids.append(value.strip())
        elif name.lower() != b"date":
            headers.append((name.lower(), value.strip()))
    return status, headers, body, call_ids


def launched_server(command: list[str], port: int, workdir: Path, **env: str) -> ServerProcess:
    """A server started as the launcher tests start programs: without the runner's own
    EVENTLOG_/OTEL_ variables."""
    return ServerProcess(command, port, workdir, env, base_env=launcher_env(), ready_within=60)

SERVERS = {
    "gunicorn": ["gunicorn", "-w", "1", "-b", "127.0.0.1:{port}", "plain_flask:app"],
    "flask-run": ["flask", "--app", "plain_flask", "run", "--host", "127.0.0.1", "--port", "{port}"],
}


@pytest.mark.parametrize("server", list(SERVERS))
def test_hostile_requests_get_the_uninstrumented_answer_and_one_safe_event(tmp_path, rabbitmq, server):
    service = f"hostile{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    servers = []
    try:
        for launcher in ([], [LAUNCHER]):
            port = free_port()
            command = [part.format(port=port) for part in SERVERS[server]]
            servers.append(launched_server([*launcher, *command], port, tmp_path, EVENTLOG_EXPORTERS="amqp",
                                  EVENTLOG_AMQP_URI=AMQP_URI, EVENTLOG_SERVICE_NAME=service,
                                  EVENTLOG_BSP_SCHEDULE_DELAY="20"))
        plain, instrumented = servers
        answered_call_ids = []
        for name, (path, headers) in HOSTILE_REQUESTS.items():
            expected = split_response(raw_exchange(plain.port, path, headers))
            status, response_headers, body, call_ids = split_response(
                raw_exchange(instrumented.port, path, headers))
            assert (status, response_headers, body) == expected[:3], name
            assert expected[3] == [] and len(call_ids) <= 1, name
            assert all(SAFE_CALL_ID.fullmatch(call_id.decode("ascii")) for call_id in call_ids), name
            answered_call_ids += [call_id.decode() for call_id in call_ids]
        events = [json.loads(message.body) for message in queue.read(len(answered_call_ids))]
        assert queue.rest(0.5) == [], "one event per request that reached the app"
    finally:
        for started in servers:
            started.stop()
        queue.close()
    assert sorted(event["call_id"] for event in events) == sorted(answered_call_ids)
    for event in events:
        assert event["entrypoint_name"] in {"get_order", "unmatched"}
        assert len(json.dumps(event["call_stack"])) < 2200, "the incoming stack is bounded"
    assert not any(marker in json.dumps(events, ensure_ascii=False) for marker in ("attacker", "日本", "%E6", "zzzz"))
    [ok] = [e for e in events if e["call_stack"][0] == "gw.checkout.1"]
    assert ok["call_stack"] == ["gw.checkout.1", ok["call_id"]]


HOSTILE_TASK_HEADERS = [
    {"traceparent": 5},
    {"traceparent": ["00-zz"], "tracestate": {"a": 1}},
    {"eventlog_call_stack": "gw.checkout.1"},
    {"eventlog_call_stack": [1, 2]},
    {"eventlog_call_stack": ["a\x01b", "c"]},
    {"eventlog_call_stack": ["x" * 10_000]},
    {"eventlog_call_stack": {"not": "a list"}, "traceparent": None},
]


def test_celery_tasks_with_hostile_headers_run_with_one_fresh_event_each(celery_worker, rabbitmq):
    service = f"celery{uuid.uuid4().hex[:8]}"
    queue_name = f"tasks-{service}"
    events = BoundQueue(service)
    try:
        worker = celery_worker(queue_name, EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=AMQP_URI,
                               EVENTLOG_SERVICE_NAME=service, EVENTLOG_BSP_SCHEDULE_DELAY="20")
        results = [celery_app.add.apply_async((n, 1), queue=queue_name, headers=headers)
                   for n, headers in enumerate(HOSTILE_TASK_HEADERS)]
        assert [result.get(timeout=30) for result in results] == [n + 1 for n in range(len(results))]
        received = [json.loads(message.body) for message in events.read(len(results), timeout=30)]
        assert events.rest(1) == [], "exactly one event per task"
    finally:
        events.close()
    assert sorted(e["data"]["task_id"] for e in received) == sorted(r.id for r in results)
    for event in received:
        assert event["call_stack"] == [event["call_id"]]
        assert SAFE_CALL_ID.fullmatch(event["call_id"])
    assert "Traceback" not in worker.log.read_text()


def test_entrypoint_types_match_subclasses_of_the_named_type(nameko_services, rabbitmq):
    service = f"gw{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    port = free_port()
    runner = nameko_services(
        ["http_gateway"], {"WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}, SERVICE_NAME=service,
        EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=AMQP_URI, EVENTLOG_BSP_SCHEDULE_DELAY="20",
        EVENTLOG_NAMEKO_ENTRYPOINT_TYPES="HttpRequestHandler",
    )
    try:
        wait_until(lambda: runner.check_running() or port_open("127.0.0.1", port), 30, "nameko's web server")
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=10) as response:
            assert response.read() == b"pong"
        [message] = queue.read(1, timeout=15)
    finally:
        queue.close()
    event = json.loads(message.body)
    assert (event["entrypoint_protocol"], event["entrypoint_name"]) == ("HttpEntrypoint", "ping")


SPAN_LIMITS_PROGRAM = """
import json, flask
from opentelemetry import trace
from eventlog_instrument import EventLogInstrumentor, dispatch_event
from eventlog_instrument.exporters.memory import InMemoryEventExporter

memory = InMemoryEventExporter()
EventLogInstrumentor().instrument(exporters=[memory], service_name="limited", bsp_schedule_delay=20)
app = flask.Flask("limited")

@app.get("/orders/<int:order_id>")
def get_order(order_id):
    span = trace.get_current_span()
    for n in range(6):
        span.set_attribute(f"user{n}", "v" * 5000)
    dispatch_event("inside", {"blob": "y" * 10_000})
    return "ok"

dispatch_event("standalone", {"blob": "x" * 10_000}, {"tenant": "z" * 5000})
assert app.test_client().get("/orders/1").status_code == 200
print(json.dumps(memory.wait_for(3)))
"""


def test_user_span_limits_never_cut_an_events_identity_or_payload():
    env = {"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "4096", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "4"}
    result = subprocess.run([sys.executable, "-c", SPAN_LIMITS_PROGRAM], env=launcher_env(**env),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    events = {event["event_type"]: event for event in json.loads(result.stdout)}
    assert events["standalone"]["data"] == {"blob": "x" * 10_000}
    assert events["standalone"]["tenant"] == "z" * 5000
    assert events["inside"]["data"] == {"blob": "y" * 10_000}
    fired = events["entrypoint_fired"]
    assert SAFE_CALL_ID.fullmatch(fired["call_id"]) and fired["call_id"].startswith("limited.get_order.")
    assert fired["call_stack"] == [fired["call_id"]] == events["inside"]["call_stack"]
    assert (fired["data"]["status_code"], fired["data"]["method"]) == (200, "GET")
    user = {key: value for key, value in fired.items() if key.startswith("user")}
    assert len(user) == 4 and all(len(value) == 4096 for value in user.values()), "the user's own limits"


def test_nameko_http_answers_hostile_requests_as_uninstrumented_with_one_event_each(tmp_path, rabbitmq):
    service = f"nkhttp{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    servers = []
    try:
        for launcher in ([], [LAUNCHER]):
            port = free_port()
            config = tmp_path / f"config-{port}.json"
            config.write_text(json.dumps({"AMQP_URI": AMQP_URI, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}))
            servers.append(launched_server([*launcher, "nameko", "run", "--config", str(config), "stack_echo"], port,
                                  tmp_path, SERVICE_NAME=service, EVENTLOG_EXPORTERS="amqp",
                                  EVENTLOG_AMQP_URI=AMQP_URI, EVENTLOG_BSP_SCHEDULE_DELAY="20"))
        plain, instrumented = servers
        served, answered_call_ids = 0, []
        for name, (path, headers) in HOSTILE_REQUESTS.items():
            expected = split_response(raw_exchange(plain.port, path, headers))
            answer = split_response(raw_exchange(instrumented.port, path, headers))
            assert answer[:3] == expected[:3] and expected[3] == [], name
            reached = expected[0].startswith(b"HTTP/1.1 200 ")
            served += reached
            assert len(answer[3]) == reached, f"{name}: X-Call-Id only from a worker"
            answered_call_ids += [call_id.decode("ascii") for call_id in answer[3]]
        assert served == 6, "the six /orders/<n> requests reach the entrypoint"
        events = [json.loads(message.body) for message in queue.read(served)]
        assert queue.rest(0.5) == [], "one event per request that reached the entrypoint"
    finally:
        for started in servers:
            started.stop()
        queue.close()
    assert sorted(event["call_id"] for event in events) == sorted(answered_call_ids)
    for event in events:
        assert (event["entrypoint_protocol"], event["entrypoint_name"]) == ("HttpRequestHandler", "get_order")
        assert event["call_stack"][-1] == event["call_id"] and event["call_id"].startswith(f"{service}.get_order.")
        assert len(json.dumps(event["call_stack"])) < 2200, "the incoming stack is bounded"
        assert event["data"]["outcome"] == "ok"
    continued = sorted(event["call_stack"][0] for event in events if len(event["call_stack"]) > 1)
    assert len(continued) == 2 and continued[0].startswith("caller") and continued[1] == "gw.checkout.1", (
        "only the valid stacks continue (of the 8k one, the newest ids that fit)"
    )
