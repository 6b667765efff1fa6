"""Nameko ``@http`` entrypoints and the standalone event dispatcher as hops of one call
stack: a Flask gateway (gunicorn) and Nameko services (``nameko run``), both under
``eventlog-instrument``, their events read back from RabbitMQ.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.brokers import AMQP_URI, BoundQueue, queue_consumed
from tests.support.goldens import assert_golden
from tests.support.processes import ServerProcess
from tests.support.waiting import free_port, port_open, stop_process, wait_until
from tests.test_launcher import LAUNCHER, launcher_env

EXPORT_ENV = {"EVENTLOG_EXPORTERS": "amqp", "EVENTLOG_AMQP_URI": AMQP_URI, "EVENTLOG_BSP_SCHEDULE_DELAY": "20"}
SERVICES = ["nameko_http_chain:Web", "nameko_http_chain:Store", "nameko_http_chain:Audit"]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class NamekoWeb:
    """Web -> Store -> Audit of ``tests/services/nameko_http_chain.py`` under the launcher,
    with a queue on each service's events (and the gateway's, named ``gateway``)."""

    def __init__(self, workdir: Path, gateway: str, **env: str) -> None:
        prefix = f"h{uuid.uuid4().hex[:8]}"
        self.web, self.store, self.audit = (f"{prefix}_{name}" for name in ("web", "store", "audit"))
        self.queues = {name: BoundQueue(name) for name in (self.web, self.store, self.audit, gateway)}
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = workdir / f"config-{prefix}.json"
        config.write_text(json.dumps({"AMQP_URI": AMQP_URI, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}"}))
        self.log = workdir / f"nameko-{prefix}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [LAUNCHER, "nameko", "run", "--config", str(config), *SERVICES],
                env=launcher_env(SERVICE_PREFIX=prefix, GATEWAY_SERVICE=gateway, **EXPORT_ENV, **env),
                cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
            )

        def ready() -> bool:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            return port_open("127.0.0.1", port) and queue_consumed(f"rpc-{self.store}") and queue_consumed(
                f"evt-{gateway}-announced--{self.audit}.on_announced"
            )

        wait_until(ready, 60, "the Nameko services")

    def events(self, service: str, count: int) -> list[dict[str, Any]]:
        return [json.loads(message.body) for message in self.queues[service].read(count)]

    def stop(self) -> None:
        stop_process(self.process)
        for queue in self.queues.values():
            queue.close()
        assert "eventlog_instrument could not" not in self.log.read_text(), "no step of the package failed"


@pytest.fixture(scope="module")
def system(tmp_path_factory, rabbitmq):
    """The gateway (gunicorn, one worker) in front of the Nameko services."""
    workdir = tmp_path_factory.mktemp("nameko_http")
    gateway = f"gw{uuid.uuid4().hex[:8]}"
    nameko = NamekoWeb(workdir, gateway)
    port = free_port()
    server = ServerProcess(
        [LAUNCHER, "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "nameko_http_gateway:app"],
        port, workdir,
        {"NAMEKO_URL": nameko.url, "GATEWAY_AMQP_URI": AMQP_URI, "EVENTLOG_SERVICE_NAME": gateway, **EXPORT_ENV},
        base_env=launcher_env(), ready_within=60,
    )
    nameko.gateway, nameko.gateway_url = gateway, server.url  # type: ignore[attr-defined]
    yield nameko
    server.stop()
    nameko.stop()


def assert_continued(parent: dict[str, Any], child: dict[str, Any]) -> None:
    """``child`` continues ``parent``'s stack with its own id last, in the same trace."""
    assert child["call_stack"] == [*parent["call_stack"], child["call_id"]]
    assert child["data"]["trace_id"] == parent["data"]["trace_id"]


def test_flask_to_nameko_http_to_rpc_to_event_handler_is_one_call_stack(system):
    answer = requests.get(f"{system.gateway_url}/order/7", timeout=30)

    assert (answer.status_code, answer.text) == (200, "order 7")
    [gateway] = system.events(system.gateway, 1)
    [web] = system.events(system.web, 1)
    [store] = system.events(system.store, 1)
    [audit] = system.events(system.audit, 1)
    assert gateway["call_stack"] == [gateway["call_id"]]
    assert_continued(gateway, web)
    assert_continued(web, store)
    assert_continued(store, audit)
    assert_golden(web, "nameko/http_continued")
    assert (store["entrypoint_name"], audit["entrypoint_name"]) == ("fetch", "on_fetched")


HOSTILE_HEADERS = [
    {"X-Call-Stack": "has space,gw.checkout.1"},
    {"X-Call-Stack": "v" * 7000},
    {"X-Call-Stack": ",".join(["a"] * 1500)},
    {"X-Call-Stack": "caf\u00e9.checkout.1".encode()},
    {"X-Call-Stack": "gw.checkout.1\t,"},
    {"traceparent": "00-not-a-trace-01"},
    {"traceparent": "x" * 6000, "tracestate": "\u00e9=\u00e9".encode()},
]


def answer_without_call_id(response: requests.Response) -> tuple[Any, ...]:
    headers = {k: v for k, v in response.headers.items() if k not in ("Date", "X-Call-Id")}
    return response.status_code, headers, response.content


def test_malformed_or_oversized_headers_start_a_fresh_stack_and_trace_and_answer_unchanged(system):
    plain = requests.get(f"{system.url}/orders/3", timeout=30)
    answers = [requests.get(f"{system.url}/orders/3", headers=headers, timeout=30) for headers in HOSTILE_HEADERS]
    continued = requests.get(
        f"{system.url}/orders/3", headers={"X-Call-Stack": "gw.checkout.1", "traceparent": TRACEPARENT}, timeout=30
    )

    count = len(HOSTILE_HEADERS) + 2
    webs, stores, audits = (system.events(name, count) for name in (system.web, system.store, system.audit))
    for answer in (*answers, continued):
        assert answer_without_call_id(answer) == answer_without_call_id(plain)
    *hostile, last = webs
    for answer, web, store, audit in zip((plain, *answers), hostile, stores, audits, strict=False):
        assert web["call_stack"] == [web["call_id"]]
        assert answer.headers["X-Call-Id"] == web["call_id"]
        assert_continued(web, store)
        assert_continued(store, audit)
    assert len({web["data"]["trace_id"] for web in hostile} | {TRACE_ID}) == len(hostile) + 1
    assert last["call_stack"] == ["gw.checkout.1", last["call_id"]]
    assert last["data"]["trace_id"] == stores[-1]["data"]["trace_id"] == TRACE_ID
    assert stores[-1]["call_stack"] == [*last["call_stack"], stores[-1]["call_id"]]


def test_call_id_answered_is_the_calls_own_and_errors_follow_the_status(system):
    own = f"{system.web}.get_order."
    spoofed = requests.get(
        f"{system.url}/orders/4", headers={"X-Call-Id": "from-the-request", "X-Call-Stack": "gw.x.1"}, timeout=30
    )
    apps_own = requests.get(f"{system.url}/own-call-id", timeout=30)
    failed = requests.get(f"{system.url}/fail", timeout=30)
    expected = requests.get(f"{system.url}/missing", timeout=30)
    unmatched = requests.get(f"{system.url}/nowhere", timeout=30)

    get_order, own_call_id, fail, missing = system.events(system.web, 4)
    system.events(system.store, 1), system.events(system.audit, 1)
    assert spoofed.headers["X-Call-Id"] == get_order["call_id"] and get_order["call_id"].startswith(own)
    assert get_order["call_stack"] == ["gw.x.1", get_order["call_id"]]
    assert apps_own.headers["X-Call-Id"] == "the-app-s-own", "the application's own header wins"
    assert own_call_id["data"]["status_code"] == 200
    assert (failed.status_code, failed.headers["X-Call-Id"]) == (500, fail["call_id"])
    assert {k: fail["data"][k] for k in ("route", "status_code", "outcome", "error_type", "error_message")} == {
        "route": "/fail", "status_code": 500, "outcome": "error", "error_type": "ValueError",
        "error_message": "boom",
    }
    assert (expected.status_code, expected.headers["X-Call-Id"]) == (400, missing["call_id"])
    assert {k: missing["data"][k] for k in ("status_code", "outcome", "expected_error_type")} == {
        "status_code": 400, "outcome": "ok", "expected_error_type": "KeyError",
    }
    assert unmatched.status_code == 404 and "X-Call-Id" not in unmatched.headers
    assert system.queues[system.web].rest(0.5) == [], "a request that starts no worker is no event"


def test_standalone_event_dispatcher_in_a_flask_request_continues_its_stack(system):
    answer = requests.post(f"{system.gateway_url}/announce/5", timeout=30)

    assert (answer.status_code, answer.text) == (200, "announced")
    [gateway] = system.events(system.gateway, 1)
    [audit] = system.events(system.audit, 1)
    assert audit["entrypoint_name"] == "on_announced"
    assert_continued(gateway, audit)


def test_call_id_response_header_off_switch(tmp_path, rabbitmq):
    nameko = NamekoWeb(tmp_path, f"gw{uuid.uuid4().hex[:8]}", EVENTLOG_CALL_ID_RESPONSE_HEADER="false")
    try:
        answer = requests.get(f"{nameko.url}/orders/2", timeout=30)
        [web] = nameko.events(nameko.web, 1)
    finally:
        nameko.stop()
    assert (answer.status_code, answer.text) == (200, "order 2")
    assert "X-Call-Id" not in answer.headers
    assert web["data"]["status_code"] == 200
