"""Real programs in subprocesses: ``nameko run``, servers, Celery workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.brokers import AMQP_URI, queue_consumed
from tests.support.paths import TESTS
from tests.support.waiting import port_open, stop_process, wait_until


class NamekoProcess:
    """``nameko run`` of services in ``tests/services`` in a subprocess, stopped by SIGTERM."""

    def __init__(
        self, services: list[str], workdir: Path, config: dict[str, Any], env: dict[str, str]
    ) -> None:
        config_file = workdir / f"nameko-{uuid.uuid4().hex[:8]}.json"
        config_file.write_text(json.dumps({"AMQP_URI": AMQP_URI, **config}))
        self.log = workdir / f"nameko-{uuid.uuid4().hex[:8]}.log"
        environ = {**os.environ, "PYTHONPATH": str(TESTS / "services"), **env}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "nameko", "run", "--config", str(config_file), *services],
                env=environ, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
            )

    def check_running(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"nameko run exited: {self.log.read_text()[-3000:]}")

    def wait_for_queues(self, *queues: str, timeout: float = 30.0) -> None:
        """Wait until each queue has a consumer: Nameko consumes only after binding."""
        for queue in queues:
            def ready(queue: str = queue) -> bool:
                self.check_running()
                return queue_consumed(queue)

            wait_until(ready, timeout, f"a consumer on the queue {queue}")

    def stop(self) -> None:
        stop_process(self.process)


class NamekoConsumer:
    """A real Nameko service whose ``@event_handler``s write every event they receive."""

    def __init__(self, sources: tuple[str, ...], event_type: str, workdir: Path) -> None:
        self.output = workdir / f"received-{uuid.uuid4().hex[:8]}.jsonl"
        self.output.touch()
        self.runner = NamekoProcess(["eventlog_consumer"], workdir, {}, {
            "CONSUMER_SOURCE_SERVICES": ",".join(sources),
            "CONSUMER_EVENT_TYPE": event_type,
            "CONSUMER_OUTPUT": str(self.output),
        })
        self.runner.wait_for_queues(*(
            f"evt-{source}-{event_type}--eventlog_consumer.handle_{source.replace('-', '_')}"
            for source in sources
        ))

    def received(self) -> list[dict[str, Any]]:
        lines = self.output.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        def enough() -> list[dict[str, Any]] | None:
            self.runner.check_running()
            events = self.received()
            return events if len(events) >= count else None

        return wait_until(enough, timeout, f"{count} events at the Nameko consumer")  # type: ignore[no-any-return]


def rpc(service: str, method: str, *args: Any) -> Any:
    """Call a Nameko service the way a script would, with a standalone RPC proxy."""
    import nameko
    from nameko.standalone.rpc import ClusterRpcProxy

    if hasattr(nameko, "config"):  # Nameko 3: the client reads the global config
        with nameko.config.patch({"AMQP_URI": AMQP_URI}), ClusterRpcProxy(timeout=20) as client:
            return getattr(client[service], method)(*args)
    with ClusterRpcProxy({"AMQP_URI": AMQP_URI}, timeout=20) as proxy:
        return getattr(proxy[service], method)(*args)


class ServerProcess:
    """A server command on a free loopback port, ready once the port accepts connections."""

    def __init__(
        self,
        command: list[str],
        port: int,
        workdir: Path,
        env: dict[str, str],
        *,
        base_env: dict[str, str] | None = None,
        ready_within: float = 30,
    ) -> None:
        """``env`` over ``base_env`` (this process's environment by default)."""
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / f"server-{uuid.uuid4().hex[:8]}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, env={**(os.environ if base_env is None else base_env), **env},
                cwd=TESTS / "apps",
                stdout=log, stderr=subprocess.STDOUT,
            )

        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited: {self.log.read_text()[-3000:]}")
            return port_open("127.0.0.1", port)

        wait_until(ready, ready_within, f"the server on port {port}")

    def stop(self) -> None:
        stop_process(self.process)


class CeleryWorker:
    """``celery worker`` with the prefork pool, stopped by SIGTERM (a warm shutdown)."""

    def __init__(self, queue: str, options: tuple[str, ...], env: dict[str, str], workdir: Path) -> None:
        self.log = workdir / f"celery-{uuid.uuid4().hex[:8]}.log"
        command = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool", "prefork",
                   "--concurrency", "2", "-Q", queue, "--without-heartbeat", "--without-gossip",
                   "--without-mingle", "-l", "INFO", "-n", f"{queue}@%h", *options]
        environ = {**os.environ, "PYTHONPATH": str(TESTS / "apps"), "CELERY_TEST_QUEUE": queue,
                   "EVENTLOG_TEST_INSTRUMENT": "1", **env}
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(command, env=environ, cwd=TESTS / "apps", stdout=output,
                                            stderr=subprocess.STDOUT)

        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"the Celery worker exited: {self.log.read_text()[-3000:]}")
            return queue_consumed(queue)

        wait_until(ready, 60, f"the Celery worker consuming {queue}")

    def stop(self) -> None:
        stop_process(self.process, 20)
