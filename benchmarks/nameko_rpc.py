"""Nameko RPC round trip, bare vs instrumented, side by side in one run.

Four ``nameko run`` processes serve the same echo service: one bare, one under
``EventLogInstrumentor`` with the ``amqp`` exporter, one with exporter ``none`` (the
hooks and the call stack, no events: nothing reads the spans, so they are not
recorded), which separates the cost of the hooks from that of recording and publishing
an event per call to the same broker, and a second bare one: the control, whose ratio to
the first is the benchmark's own noise. One standalone proxy calls them in rounds whose
order rotates, so all see the same machine load. Prints the median round trip of each
and its ratio to bare.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import kombu
from nameko.standalone.rpc import ClusterRpcProxy

AMQP_URI = "amqp://guest:guest@127.0.0.1:5672//"
HERE = Path(__file__).parent


VARIANTS = {
    "bare": ("bare", None),
    "instrumented": ("instrumented, `amqp` exporter", "amqp"),
    "spans": ("instrumented, exporter `none` (hooks, no events, spans unrecorded)", "none"),
    "control": ("bare again (control: the benchmark's noise)", None),
}


def start(service: str, exporters: str | None, workdir: Path) -> subprocess.Popen[bytes]:
    config = workdir / f"{service}.json"
    config.write_text(json.dumps({"AMQP_URI": AMQP_URI}))
    env = {**os.environ, "PYTHONPATH": str(HERE / "services"), "BENCH_SERVICE": service,
           "EVENTLOG_AMQP_URI": AMQP_URI, "EVENTLOG_ENTRYPOINTS_TO_EXCLUDE": "stats"}
    if exporters is not None:
        env["BENCH_INSTRUMENT"] = "1"
        env["EVENTLOG_EXPORTERS"] = exporters
    return subprocess.Popen(
        [sys.executable, "-m", "nameko", "run", "--config", str(config), "echo"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def wait_consumed(queue: str) -> None:
    deadline = time.monotonic() + 30
    with kombu.Connection(AMQP_URI) as connection:
        while time.monotonic() < deadline:
            channel = connection.channel()
            try:
                if channel.queue_declare(queue, passive=True).consumer_count:
                    return
            except connection.channel_errors:
                pass
            time.sleep(0.1)
    raise TimeoutError(queue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per round and service")
    parser.add_argument("--rounds", type=int, default=16)
    args = parser.parse_args()
    suffix = uuid.uuid4().hex[:6]
    services = {label: f"bench_{label}_{suffix}" for label in VARIANTS}
    with tempfile.TemporaryDirectory() as workdir:
        processes = [
            start(name, VARIANTS[label][1], Path(workdir)) for label, name in services.items()
        ]
        try:
            for name in services.values():
                wait_consumed(f"rpc-{name}")
            timings: dict[str, list[float]] = {label: [] for label in services}
            with ClusterRpcProxy({"AMQP_URI": AMQP_URI}, timeout=30) as proxy:
                for name in services.values():
                    for _ in range(50):
                        getattr(proxy, name).echo(1)
                for number in range(args.rounds):
                    order = list(services.items())
                    shift = number % len(order)  # no service always runs right after another
                    order = order[shift:] + order[:shift]
                    if number // len(order) % 2:
                        order.reverse()
                    for label, name in order:
                        method = getattr(proxy, name).echo
                        started = time.perf_counter()
                        for _ in range(args.calls):
                            method(1)
                        timings[label].append((time.perf_counter() - started) / args.calls)
        finally:
            for process in processes:
                process.terminate()
                process.wait(20)
    bare = statistics.median(timings["bare"]) * 1e6
    print(f"Nameko RPC round trip, median of {args.rounds} rounds of {args.calls} calls:\n")
    print("| service | µs per call | vs bare |")
    print("|---|---|---|")
    for label, (description, _) in VARIANTS.items():
        median = statistics.median(timings[label]) * 1e6
        print(f"| {description} | {median:,.0f} | {median / bare:.2f} |")


if __name__ == "__main__":
    main()
