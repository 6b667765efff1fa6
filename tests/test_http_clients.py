"""Outgoing HTTP propagation between real services: A -> requests -> B -> httpx,
urllib3 and urllib.request -> C, three Flask apps each served by gunicorn under
``eventlog-instrument``, their events read back from RabbitMQ.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest
import requests

from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.processes import ServerProcess
from tests.support.waiting import free_port

BIN = Path(sys.executable).parent
APP = "http_chain_app:app"


class Chain:
    """Services C, B and A, started in that order so that each knows the next one's URL."""

    def __init__(self, workdir: Path, instrumented: bool, exporting_nothing: str = "") -> None:
        self.servers: list[ServerProcess] = []
        self.queues: dict[str, BoundQueue] = {}
        self.names: dict[str, str] = {}
        next_url = ""
        for letter in "cba":
            exporters = "none" if letter in exporting_nothing else "amqp"
            server = self._serve(workdir, letter, next_url, instrumented, exporters)
            next_url = server.url
        self.url = next_url

    def _serve(
        self, workdir: Path, letter: str, next_url: str, instrumented: bool, exporters: str
    ) -> ServerProcess:
        port = free_port()
        gunicorn = ["gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", APP]
        env = {"NEXT_URL": next_url, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        if instrumented:
            service = f"chain{letter}{uuid.uuid4().hex[:8]}"
            self.names[letter] = service
            self.queues[letter] = BoundQueue(service)
            command = [str(BIN / "eventlog-instrument"), *gunicorn]
            env.update(EVENTLOG_EXPORTERS=exporters, EVENTLOG_AMQP_URI=AMQP_URI,
                       EVENTLOG_SERVICE_NAME=service, EVENTLOG_BSP_SCHEDULE_DELAY="20")
        else:
            command = [sys.executable, "-m", *gunicorn]
        server = ServerProcess(command, port, workdir, env)
        self.servers.append(server)
        return server

    def events(self, letter: str, count: int) -> list[dict]:
        return [json.loads(message.body) for message in self.queues[letter].read(count)]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        for queue in self.queues.values():
            queue.close()


@pytest.fixture
def chains(tmp_path, rabbitmq):
    started: list[Chain] = []

    def start(instrumented: bool, exporting_nothing: str = "") -> Chain:
        chain = Chain(tmp_path, instrumented, exporting_nothing)
        started.append(chain)
        return chain

    yield start
    for chain in started:
        chain.stop()


def assert_continued(parent: dict, child: dict) -> None:
    """``child`` continues ``parent``'s stack with its own id last, in the same trace."""
    assert child["call_stack"] == [*parent["call_stack"], child["call_id"]]
    assert child["data"]["trace_id"] == parent["data"]["trace_id"]


@pytest.mark.parametrize(("path", "calls_of_c"), [("/a", 3), ("/a-async", 2)], ids=["sync", "async"])
def test_every_event_of_the_chain_continues_the_first_callers_stack(chains, path, calls_of_c):
    plain = chains(instrumented=False)
    instrumented = chains(instrumented=True)

    answer = requests.get(instrumented.url + path, timeout=30)
    expected = requests.get(plain.url + path, timeout=30)

    assert (answer.status_code, answer.json()) == (expected.status_code, expected.json())
    [a] = instrumented.events("a", 1)
    [b] = instrumented.events("b", 1)
    c_events = instrumented.events("c", calls_of_c)
    assert a["call_stack"] == [a["call_id"]]
    assert_continued(a, b)
    for c in c_events:
        assert_continued(b, c)
    assert len({c["call_id"] for c in c_events}) == calls_of_c
    # client requests are not events: one per entrypoint, no more
    for letter in "abc":
        assert instrumented.queues[letter].rest(0.5) == []


def test_a_service_exporting_nothing_passes_the_stack_and_trace_on(chains):
    """A's spans are not recorded (exporter ``none``, nothing reads them), yet B and C
    continue A's call and the caller's trace as if A exported."""
    chain = chains(instrumented=True, exporting_nothing="a")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    answer = requests.get(chain.url + "/a", timeout=30, headers={
        "traceparent": f"00-{trace_id}-00f067aa0ba902b7-00", "X-Call-Stack": "browser.click.0",
    })
    assert answer.status_code == 200
    a_call_id = answer.headers["X-Call-Id"]
    assert a_call_id.startswith(f"{chain.names['a']}.service_a.")
    [b] = chain.events("b", 1)
    assert b["call_stack"] == ["browser.click.0", a_call_id, b["call_id"]]
    assert b["data"]["trace_id"] == trace_id
    for c in chain.events("c", 3):
        assert_continued(b, c)
    assert chain.queues["a"].rest(0.5) == []
