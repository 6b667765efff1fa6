"""Under eventlet (``nameko run``), does a busy service starve the export into drops?

Client processes drive a Nameko echo service at ``--rate`` RPC calls per second in all
for ``--seconds``, first a bare service, then an instrumented one (each call one
``entrypoint_fired`` event on the ``amqp`` exporter); reports the rate each reached
and how many events were exported and dropped. On a 2-core machine the service
saturates below 1,000 calls/s, bare too: the hub is then never idle, the hardest case
for an export that needs it to yield. The SDK's batch
processor runs as a green thread there and drops most events of a busy loop (SPEC §8);
ours is a real OS thread.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from nameko.standalone.rpc import ClusterRpcProxy

sys.path.insert(0, str(Path(__file__).parent))
from nameko_rpc import AMQP_URI, start, wait_consumed


def drive(service: str, rate: float, calls: int) -> float:
    """One client: ``calls`` RPC calls paced at ``rate`` per second; returns the seconds taken."""
    with ClusterRpcProxy({"AMQP_URI": AMQP_URI}, timeout=60) as proxy:
        target = proxy[service]
        started = time.monotonic()
        pending = []
        for number in range(calls):
            pending.append(target.echo.call_async(number))
            ahead = (number + 1) / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
            if len(pending) >= 200:
                for reply in pending:
                    reply.result()
                pending = []
        for reply in pending:
            reply.result()
        return time.monotonic() - started


def run(instrumented: bool, rate: int, seconds: int, clients: int) -> tuple[int, float, dict]:
    """Drive one service; returns the calls made, the rate reached and its export counts."""
    service = f"bench_drops_{uuid.uuid4().hex[:6]}"
    share = rate * seconds // clients
    calls = share * clients
    with tempfile.TemporaryDirectory() as workdir:
        process = start(service, "amqp" if instrumented else None, Path(workdir))
        try:
            wait_consumed(f"rpc-{service}")
            fork = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(clients, mp_context=fork) as pool:
                durations = list(pool.map(
                    drive, [service] * clients, [rate / clients] * clients, [share] * clients
                ))
            with ClusterRpcProxy({"AMQP_URI": AMQP_URI}, timeout=60) as proxy:
                target = proxy[service]
                deadline = time.monotonic() + 30
                stats = target.stats()
                while instrumented and time.monotonic() < deadline and (
                    stats["exported"] + stats["dropped"] < calls
                ):
                    time.sleep(0.2)
                    stats = target.stats()
        finally:
            process.terminate()
            process.wait(30)
    return calls, calls / max(durations), stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000, help="RPC calls per second asked for")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=3, help="client processes sharing the rate")
    args = parser.parse_args()
    _, bare_rate, _ = run(False, args.rate, args.seconds, args.clients)
    calls, rate, stats = run(True, args.rate, args.seconds, args.clients)
    print(f"Nameko under eventlet, {args.clients} client processes asking for {args.rate:,} "
          f"RPC calls/s for {args.seconds} s:\n")
    print("| service | calls/s reached | events | exported | dropped |")
    print("|---|---|---|---|---|")
    print(f"| bare | {bare_rate:,.0f} | | | |")
    print(f"| instrumented, `amqp` exporter | {rate:,.0f} | {calls:,} | {stats['exported']:,} | "
          f"{stats['dropped']:,} |")


if __name__ == "__main__":
    main()
