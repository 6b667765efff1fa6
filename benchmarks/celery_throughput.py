"""Celery worker drain rate: bare, instrumented, and the official instrumentor, in one run.

Each round publishes the same tasks to a fresh queue, then a worker (``--pool solo``, so
the tasks run in order) drains it; the rate is measured inside the worker from the
first task to the last. Every round runs each variant in turn: bare; this package with
the ``amqp`` exporter; this package with exporter ``none`` (the hooks and the
call stack, no events: nothing reads the spans, so they are not recorded), which
separates the cost of the hooks from that of recording and publishing;
opentelemetry-instrumentation-celery with an SDK batch processor whose exporter drops
the spans (the official instrumentor doing less than in production, as our ``none``
does); then the peers, each shipping every task: the same OpenTelemetry pipeline
exporting OTLP/HTTP, ddtrace, sentry-sdk and elastic-apm (see ``peers``). Prints
a Markdown table: median rates, and for each variant the median of its rounds' ratios
to bare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "services"))

import peers  # noqa: E402
from bench_tasks import noop  # noqa: E402

VARIANTS = {
    "bare": ("bare", {}),
    "amqp": ("eventlog-instrument, `amqp` exporter", {"BENCH_INSTRUMENT": "eventlog"}),
    "none": ("eventlog-instrument, exporter `none` (hooks, no events, spans unrecorded)",
             {"BENCH_INSTRUMENT": "eventlog", "EVENTLOG_EXPORTERS": "none"}),
    "official": ("opentelemetry-instrumentation-celery + SDK batch processor, spans discarded",
                 {"BENCH_INSTRUMENT": "official"}),
    "opentelemetry-otlp": ("opentelemetry-instrumentation-celery + SDK batch processor, "
                           "OTLP/HTTP to a loopback collector",
                           {"BENCH_INSTRUMENT": "opentelemetry-otlp"}),
    "ddtrace": ("ddtrace, to a loopback agent", {"BENCH_INSTRUMENT": "ddtrace"}),
    "sentry-sdk": ("sentry-sdk, traces_sample_rate 1.0, to a loopback intake",
                   {"BENCH_INSTRUMENT": "sentry-sdk"}),
    "elastic-apm": ("elastic-apm, to a loopback APM server", {"BENCH_INSTRUMENT": "elastic-apm"}),
}


def drain_rate(tasks: int, variant_env: dict[str, str], workdir: Path) -> float:
    """The worker's rate; a peer's sink must then have received every task's transaction."""
    peer = variant_env.get("BENCH_INSTRUMENT", "")
    sink = peers.Sink() if peer in peers.PEERS else None
    if sink is not None:
        variant_env = {**variant_env, "BENCH_SINK_URL": sink.url}
    try:
        rate = _drain_rate(tasks, variant_env, workdir)
        if sink is not None:
            peers.check(peer, sink, tasks)
        return rate
    finally:
        if sink is not None:
            sink.stop()


def _drain_rate(tasks: int, variant_env: dict[str, str], workdir: Path) -> float:
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    marks = workdir / f"{queue}.marks"
    for number in range(tasks):
        noop.apply_async((number, tasks, str(marks)), queue=queue)
    env = {**os.environ, "PYTHONPATH": str(HERE / "services"), "EVENTLOG_EXPORTERS": "amqp",
           "EVENTLOG_AMQP_URI": "amqp://guest:guest@127.0.0.1:5672//", **variant_env}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bench_tasks", "worker", "--pool", "solo",
         "-Q", queue, "--without-heartbeat", "--without-gossip", "--without-mingle",
         "-l", "WARNING"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            lines = marks.read_text().split() if marks.exists() else []
            if "end" in lines:
                start = float(lines[lines.index("start") + 1])
                end = float(lines[lines.index("end") + 1])
                return (tasks - 1) / (end - start)
            time.sleep(0.05)
        raise TimeoutError(queue)
    finally:
        worker.terminate()  # a warm shutdown: a peer flushes what it holds
        worker.wait(60)
        with noop.app.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(args.rounds):
            for variant, (_, variant_env) in VARIANTS.items():
                rates[variant].append(drain_rate(args.tasks, variant_env, Path(workdir)))
    print(f"Celery worker drain rate (--pool solo), median of {args.rounds} rounds of "
          f"{args.tasks} tasks; vs bare is the median of each round's ratio, every variant "
          "having run in each round one after the other:\n")
    print("| worker | tasks/s | µs per task | vs bare |")
    print("|---|---|---|---|")
    for variant, (label, _) in VARIANTS.items():
        rate = statistics.median(rates[variant])
        ratio = statistics.median(
            ours / bare for ours, bare in zip(rates[variant], rates["bare"], strict=True)
        )
        print(f"| {label} | {rate:,.0f} | {1e6 / rate:,.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
