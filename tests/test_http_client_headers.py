"""What each HTTP client sends, read on a plain HTTP server of the test's own: headers
inside a call only, never to an excluded host, never over the caller's own."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import requests
import urllib3
from opentelemetry import trace

from eventlog_instrument.calls import CallIdentity, current_call, new_call, start_call_span
from eventlog_instrument.instrumentors.hooks import begin_call, end_call

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class HeaderRecorder(BaseHTTPRequestHandler):
    received: list[dict[str, str]]

    def do_GET(self) -> None:
        self.received.append({name.lower(): value for name, value in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[int, list[dict[str, str]]]]:
    """A plain HTTP server on a free port; every request's headers, names lower-cased."""
    received: list[dict[str, str]] = []
    handler = type("Recorder", (HeaderRecorder,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()
    thread.join(5)


def by_requests(url: str, headers: dict[str, str]) -> None:
    requests.get(url, headers=headers, timeout=10)


def by_urllib3(url: str, headers: dict[str, str]) -> None:
    urllib3.PoolManager().request("GET", url, headers=headers, timeout=10)


def by_httpx(url: str, headers: dict[str, str]) -> None:
    httpx.get(url, headers=headers, timeout=10)


def by_async_httpx(url: str, headers: dict[str, str]) -> None:
    async def get() -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            await client.get(url, headers=headers)

    asyncio.run(get())


def by_urllib(url: str, headers: dict[str, str]) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as answer:
        answer.read()


CLIENTS = [by_requests, by_urllib3, by_httpx, by_async_httpx, by_urllib]
Client = Callable[[str, dict[str, str]], None]


@contextlib.contextmanager
def inside_call() -> Iterator[CallIdentity]:
    """An instrumented call in progress, continuing a caller's stack."""
    call = new_call("caller", "Test", "outgoing", ("gateway.checkout.1",))
    span = start_call_span(trace.get_tracer("test"), "outgoing", call.attributes())
    token = begin_call(span)
    try:
        yield call
    finally:
        end_call(span, token)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_request_inside_a_call_carries_its_stack_and_trace(pipeline, recorder, client: Client):
    pipeline()
    port, received = recorder
    with inside_call() as call:
        trace_id = format(trace.get_current_span().get_span_context().trace_id, "032x")
        client(f"http://127.0.0.1:{port}/", {})
        assert current_call() == call

    [headers] = received
    assert headers["x-call-stack"] == f"gateway.checkout.1,{call.call_id}"
    assert headers["traceparent"].split("-")[1] == trace_id


@pytest.mark.parametrize("client", CLIENTS)
def test_outside_a_call_nothing_is_added(pipeline, recorder, client: Client):
    pipeline()
    port, received = recorder
    client(f"http://127.0.0.1:{port}/", {})

    [headers] = received
    assert "x-call-stack" not in headers
    assert "traceparent" not in headers


@pytest.mark.parametrize("client", CLIENTS)
def test_the_callers_own_headers_win_in_any_case(pipeline, recorder, client: Client):
    pipeline()
    port, received = recorder
    own = {"x-CALL-stack": "mine.1", "TraceParent": TRACEPARENT}
    with inside_call():
        client(f"http://127.0.0.1:{port}/", dict(own))

    [headers] = received
    assert (headers["x-call-stack"], headers["traceparent"]) == ("mine.1", TRACEPARENT)


@pytest.mark.parametrize("client", CLIENTS)
def test_an_excluded_host_gets_no_headers(pipeline, recorder, client: Client):
    pipeline(http_client_excluded_hosts=r"^127\.0\.0\.1$")
    port, received = recorder
    with inside_call():
        client(f"http://127.0.0.1:{port}/", {})
        client(f"http://localhost:{port}/", {})

    excluded, included = received
    assert "x-call-stack" not in excluded
    assert "traceparent" not in excluded
    assert {"x-call-stack", "traceparent"} <= included.keys()


def test_urllib3_never_changes_the_callers_headers(pipeline, recorder):
    pipeline()
    port, received = recorder
    headers = {"Accept": "text/plain"}
    pool = urllib3.HTTPConnectionPool("127.0.0.1", port, headers={"Accept": "*/*"})
    with inside_call():
        pool.request("GET", "/", headers=headers)
        pool.urlopen("GET", "/")

    assert headers == {"Accept": "text/plain"}
    assert pool.headers == {"Accept": "*/*"}
    assert [h["accept"] for h in received] == ["text/plain", "*/*"]
    assert all("x-call-stack" in h for h in received)


@pytest.mark.parametrize("client", CLIENTS)
def test_a_disabled_client_instrumentation_adds_nothing(pipeline, recorder, client: Client):
    pipeline(disabled_instrumentations="requests,urllib3,httpx,urllib")
    port, received = recorder
    with inside_call():
        client(f"http://127.0.0.1:{port}/", {})

    [headers] = received
    assert "x-call-stack" not in headers


@pytest.mark.parametrize("client", CLIENTS)
def test_a_request_that_carries_a_stack_gets_nothing_more(pipeline, recorder, client: Client):
    """Its propagation is done already (by the caller, or requests before urllib3)."""
    pipeline()
    port, received = recorder
    with inside_call():
        client(f"http://127.0.0.1:{port}/", {"X-Call-Stack": "mine.1"})

    [headers] = received
    assert headers["x-call-stack"] == "mine.1"
    assert "traceparent" not in headers


def test_urllib3_under_requests_does_not_compute_the_headers_again(pipeline, recorder, monkeypatch):
    from eventlog_instrument.instrumentors import http_client

    pipeline()
    port, received = recorder
    computed = []
    original = http_client.propagation_headers
    monkeypatch.setattr(http_client, "propagation_headers",
                        lambda *args: computed.append(args) or original(*args))
    with inside_call() as call:
        by_requests(f"http://127.0.0.1:{port}/", {})

    assert len(computed) == 1
    [headers] = received
    assert headers["x-call-stack"] == f"gateway.checkout.1,{call.call_id}"
