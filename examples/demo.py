"""The shop demo: its Flask gateway run, unchanged, under ``eventlog-instrument``.

    nox -s demo              # console exporter, no broker needed: the events as JSON lines
    nox -s demo -- --full    # gateway, two Nameko services and a Celery worker on RabbitMQ,
                             # then the call tree of one checkout, from the events received
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from eventlog_instrument.tree import build_tree, render_tree

SHOP = Path(__file__).parent / "shop"
BIN = Path(sys.executable).parent
AMQP_URI = os.environ.get("SHOP_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the program exited early:\n{process.communicate()[0]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listened on port {port} within {timeout}s")


def launch(command: list[str], **env: str) -> subprocess.Popen[str]:
    environ = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               "PYTHONPATH": str(SHOP), **env}
    return subprocess.Popen(
        [str(BIN / "eventlog-instrument"), *command], env=environ, cwd=SHOP,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def wait_for_consumer(connection, queue_name: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        channel = connection.channel()
        try:
            if channel.queue_declare(queue_name, passive=True).consumer_count:
                return
        except connection.channel_errors:
            pass
        time.sleep(0.1)
    sys.exit(f"nothing consumed {queue_name} within {timeout}s")


def request(method: str, url: str) -> str:
    try:
        prepared = urllib.request.Request(url, method=method)
        with urllib.request.urlopen(prepared, timeout=30) as reply:
            return f"{reply.status} {reply.read().decode().strip()}"
    except urllib.error.HTTPError as error:
        return f"{error.code} {error.reason}"


def console_demo() -> None:
    port = free_port()
    print(f"$ eventlog-instrument flask --app gateway run --port {port}")
    gateway = launch(["flask", "--app", "gateway", "run", "--port", str(port)])
    wait_for_port(port, gateway)
    base = f"http://127.0.0.1:{port}"
    for method, path in (("GET", "/orders/1"), ("GET", "/orders/9"), ("POST", "/checkout/teapot")):
        print(f"{method} {path} -> {request(method, base + path)}")
    gateway.send_signal(signal.SIGTERM)
    output = gateway.communicate(timeout=30)[0]
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    print(f"\n{len(events)} events written by the console exporter:\n")
    for event in events:
        print(json.dumps(event))
    print("\nas a call tree:\n")
    print(render_tree(build_tree(events)), end="")


def full_demo() -> None:
    import kombu

    services = ("gateway", "orders", "notifications", "tasks")
    connection = kombu.Connection(AMQP_URI)
    queues = []
    for service in services:
        exchange = kombu.Exchange(f"{service}.events", type="topic", durable=True)
        queue = kombu.Queue(f"shop-demo-{service}", exchange, "log_event", auto_delete=True)
        queue(connection.default_channel).declare()
        queues.append(queue)
    export = {"EVENTLOG_EXPORTERS": "amqp", "EVENTLOG_AMQP_URI": AMQP_URI,
              "EVENTLOG_BSP_SCHEDULE_DELAY": "50", "SHOP_AMQP_URI": AMQP_URI, "SHOP_FULL": "1"}
    config = SHOP / ".demo-nameko.json"
    config.write_text(json.dumps({"AMQP_URI": AMQP_URI}))
    port = free_port()
    processes = [
        launch(["nameko", "run", "--config", str(config), "services"], **export),
        launch(["celery", "-A", "tasks", "worker", "--pool", "prefork", "-c", "2",
                "--without-gossip", "--without-mingle", "--without-heartbeat"],
               EVENTLOG_SERVICE_NAME="tasks", **export),
        launch(["flask", "--app", "gateway", "run", "--port", str(port)], **export),
    ]
    try:
        wait_for_port(port, processes[-1])
        for queue_name in ("rpc-orders", "evt-orders-order_placed--notifications.on_order_placed",
                           "celery"):
            wait_for_consumer(connection, queue_name)
        reply = request("POST", f"http://127.0.0.1:{port}/checkout/teapot")
        print(f"POST /checkout/teapot -> {reply}")
        events: list[dict] = []
        deadline = time.monotonic() + 20
        def keep(body: dict, message: kombu.Message) -> None:
            events.append(body)
            message.ack()

        with kombu.Consumer(connection, queues, callbacks=[keep], accept=["json"]):
            while len(events) < 5 and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    connection.drain_events(timeout=0.5)
        print(f"\n{len(events)} events received from RabbitMQ, as a call tree:\n")
        print(render_tree(build_tree(events)), end="")
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.communicate(timeout=30)
        config.unlink()
        connection.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the whole shop on RabbitMQ")
    if parser.parse_args().full:
        full_demo()
    else:
        console_demo()


if __name__ == "__main__":
    main()
