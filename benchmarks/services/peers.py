"""The peers the benchmarks set beside this package: OpenTelemetry's own instrumentor with
the SDK's batch processor and OTLP/HTTP exporter, ddtrace, sentry-sdk and elastic-apm,
each configured as its documentation sets it up to capture every call (no sampling) and
shipping what it captures to a :mod:`peer_sink` of the benchmark's own.

A benchmark variant calls :func:`configure` before the framework's application exists,
:func:`instrument_flask_app` once it does, and at its end :func:`flush` then
:func:`check`, which fails the run unless the sink received one trace or transaction
per call made.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path
from typing import Any

OTLP = "opentelemetry-otlp"
"""OpenTelemetry's instrumentor for the framework, exporting OTLP/HTTP protobuf."""
PEERS = (OTLP, "ddtrace", "sentry-sdk", "elastic-apm")
PACKAGES = {OTLP: "opentelemetry-exporter-otlp-proto-http"}
"""A peer's distribution, where its name is not one."""
CHECK_TIMEOUT = 120.0
"""Seconds a peer has, once flushed, until the sink holds one trace or transaction per call."""
PEER_QUEUE = 1_000_000
"""Events a peer may hold: no burst of the benchmarks fills it."""


class Sink:
    """A :mod:`peer_sink` process of this variant's own."""

    def __init__(self) -> None:
        # Not the variant's stderr: a sink outliving a failed variant would hold the pipe
        # its benchmark reads to the end, and the benchmark would wait for ever.
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("peer_sink.py"))],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"

    def count(self, peer: str) -> int:
        with urllib.request.urlopen(self.url + "/counts", timeout=10) as response:
            return int(json.load(response)[peer])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


_clients: dict[str, Any] = {}


def configure(peer: str, sink_url: str, framework: str) -> None:
    """Set ``peer`` up for ``framework`` (``flask`` or ``celery``), shipping to the sink at
    ``sink_url``."""
    if peer == OTLP:
        _clients[peer] = _otlp_pipeline(sink_url, framework)
    elif peer == "ddtrace":
        os.environ.update({
            "DD_TRACE_AGENT_URL": sink_url, "DD_TRACE_API_VERSION": "v0.4", "DD_SERVICE": "bench",
            "DD_TRACE_SAMPLE_RATE": "1.0", "DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
            "DD_REMOTE_CONFIGURATION_ENABLED": "false",
            # Under callgrind the 2 s default runs out mid-answer and ddtrace resends; the
            # sink counts a resent payload once, and a longer timeout keeps resends rare.
            "DD_TRACE_AGENT_TIMEOUT_SECONDS": "60",
        })
        import ddtrace

        ddtrace.patch(**{framework: True})
    elif peer == "sentry-sdk":
        import sentry_sdk

        # a queue that never drops: sentry's default of 100 envelopes drops most of a burst
        dsn = sink_url.replace("http://", "http://public@") + "/1"
        sentry_sdk.init(dsn=dsn, traces_sample_rate=1.0,
                        transport_queue_size=PEER_QUEUE)
    elif peer == "elastic-apm":
        import elasticapm

        _clients[peer] = elasticapm.Client(
            service_name="bench", server_url=sink_url, central_config=False,
            cloud_provider="none", metrics_interval="0ms", transaction_sample_rate=1.0,
        )
        # Its queue holds 10,000 events, with no setting: when its thread fell behind a
        # 21,000-request burst it dropped transactions and failed the check (sentry's
        # queue is raised by its setting above).
        _clients[peer]._transport._event_queue.maxsize = PEER_QUEUE
        if framework == "celery":
            from elasticapm.contrib.celery import register_instrumentation

            elasticapm.instrument()
            register_instrumentation(_clients[peer])
    else:
        raise ValueError(f"unknown peer {peer!r}")


def _otlp_pipeline(sink_url: str, framework: str) -> Any:
    """An SDK provider whose batch processor exports OTLP/HTTP to the sink, its queue
    raised as the other peers' are (2,048 by default: a burst would drop spans), and the
    official instrumentor of ``framework``."""
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    exporter = OTLPSpanExporter(endpoint=sink_url + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=PEER_QUEUE))
    trace.set_tracer_provider(provider)
    if framework == "flask":
        from opentelemetry.instrumentation.flask import FlaskInstrumentor

        FlaskInstrumentor().instrument()
    else:
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()
    return provider


def instrument_flask_app(peer: str, app: Any) -> None:
    if peer == "elastic-apm":
        from elasticapm.contrib.flask import ElasticAPM

        ElasticAPM(app, client=_clients[peer])


def deliver_and_check(peer: str, sink: Sink, calls: int) -> None:
    """Flush ``peer``; raise unless ``sink`` received a trace or transaction per call."""
    flush(peer)
    check(peer, sink, calls)


def flush(peer: str) -> None:
    """Send everything ``peer`` holds."""
    if peer == OTLP:
        _clients[peer].force_flush(int(CHECK_TIMEOUT * 1000))
    elif peer == "ddtrace":
        from ddtrace.trace import tracer

        tracer.flush()
    elif peer == "sentry-sdk":
        import sentry_sdk

        sentry_sdk.flush(timeout=CHECK_TIMEOUT)
    else:
        _clients[peer].close()


def check(peer: str, sink: Sink, calls: int) -> None:
    """Raise unless ``sink`` received a trace or transaction of ``peer`` per call."""
    deadline = time.monotonic() + CHECK_TIMEOUT
    while (received := sink.count(peer)) < calls and time.monotonic() < deadline:
        time.sleep(0.1)
    if received != calls:
        raise RuntimeError(f"{peer} delivered {received} of {calls} calls to the sink")


def versions() -> str:
    """The peers' package versions, for the results."""
    return ", ".join(
        f"{PACKAGES.get(peer, peer)} {version(PACKAGES.get(peer, peer))}" for peer in PEERS
    )
