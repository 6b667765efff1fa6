"""Fixtures: the real RabbitMQ, a Tansu (Kafka) broker, Nameko consumers, the pipeline.

What they are built of lives in :mod:`tests.support`."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eventlog_instrument import EventLogInstrumentor
from eventlog_instrument.exporters.memory import InMemoryEventExporter
from tests.support.brokers import AMQP_URI, BoundQueue, start_tansu
from tests.support.paths import TESTS
from tests.support.processes import CeleryWorker, NamekoConsumer, NamekoProcess, ServerProcess
from tests.support.waiting import free_port, port_open, stop_process, wait_until


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
def announced(rabbitmq: str) -> Iterator[tuple[str, BoundQueue]]:
    """A fresh service name, and a queue of its ``announced`` events (routing key
    ``announced``): what a Nameko event dispatcher sends under that service."""
    service = f"announcer{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service, routing_key="announced")
    yield service, queue
    queue.close()


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
