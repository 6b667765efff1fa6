"""Under eventlet (``nameko run``), does a busy service starve the export into drops?

Drives an instrumented Nameko echo service at ``--rate`` RPC calls per second for
``--seconds`` (each call one ``entrypoint_fired`` event on the ``amqp`` exporter),
then reports how many events were exported and how many dropped. The SDK's batch
processor runs as a green thread there and drops most events of a busy loop (SPEC §8);
ours is a real OS thread.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

from nameko.standalone.rpc import ClusterRpcProxy

sys.path.insert(0, str(Path(__file__).parent))
from nameko_rpc import AMQP_URI, start, wait_consumed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    service = f"bench_drops_{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as workdir:
        process = start(service, True, Path(workdir))
        try:
            wait_consumed(f"rpc-{service}")
            with ClusterRpcProxy({"AMQP_URI": AMQP_URI}, timeout=60) as proxy:
                target = proxy[service]
                calls = args.rate * args.seconds
                started = time.monotonic()
                pending = []
                for number in range(calls):
                    pending.append(target.echo.call_async(number))
                    ahead = (number + 1) / args.rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)
                    if len(pending) >= 200:
                        for reply in pending:
                            reply.result()
                        pending = []
                for reply in pending:
                    reply.result()
                achieved = calls / (time.monotonic() - started)
                deadline = time.monotonic() + 30
                stats = target.stats()
                while stats["exported"] + stats["dropped"] < calls and time.monotonic() < deadline:
                    time.sleep(0.2)
                    stats = target.stats()
        finally:
            process.terminate()
            process.wait(30)
    print(f"Nameko under eventlet, {calls:,} RPC calls at {achieved:,.0f}/s:\n")
    print("| events | exported | dropped |")
    print("|---|---|---|")
    print(f"| {calls:,} | {stats['exported']:,} | {stats['dropped']:,} |")


if __name__ == "__main__":
    main()
