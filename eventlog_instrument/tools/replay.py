"""``eventlog replay``: dead-lettered events back to their exchange and routing key."""

from __future__ import annotations

import argparse
import fnmatch
import json
import signal
from typing import Any

from eventlog_instrument.settings import Settings
from eventlog_instrument.tools.brokers import amqp_connection, queue_size
from eventlog_instrument.tools.command import EXIT_USAGE, Command, ToolError
from eventlog_instrument.tools.filters import positive


def _add_replay(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queue", metavar="QUEUE", help="a dead-letter queue on RabbitMQ")
    parser.add_argument("--count", type=positive, help="replay at most this many events")
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=GLOB",
        help="replay only envelopes whose KEY matches GLOB (repeatable)",
    )


def _filters(texts: list[str]) -> list[tuple[str, str]]:
    filters = []
    for text in texts:
        key, separator, pattern = text.partition("=")
        if not separator or not key:
            raise ToolError(f"--filter takes KEY=GLOB, got {text!r}", EXIT_USAGE)
        filters.append((key, pattern))
    return filters


def _run_replay(arguments: argparse.Namespace, settings: Settings) -> int:
    if arguments.broker != "amqp":
        raise ToolError("replay reads RabbitMQ dead-letter queues only", EXIT_USAGE)
    filters = _filters(arguments.filter)
    stop = {"asked": False}
    previous = signal.signal(signal.SIGINT, lambda *_: stop.update(asked=True))
    connection = amqp_connection(settings)
    replayed = skipped = 0
    try:
        source = connection.channel()
        total = queue_size(source, arguments.queue)
        target = connection.channel()
        target.confirm_select()
        for _ in range(total):
            if stop["asked"] or (arguments.count and replayed >= arguments.count):
                break
            message = source.basic_get(arguments.queue, no_ack=False)
            if message is None:
                break
            envelope = _json_or_none(message.body)
            if not all(
                envelope is not None and fnmatch.fnmatchcase(str(envelope.get(k)), p)
                for k, p in filters
            ):
                skipped += 1
                continue
            exchange, routing_key = _dead_lettered_from(message)
            headers = {
                k: v
                for k, v in (message.properties.get("application_headers") or {}).items()
                if not k.startswith("x-death")
                and not k.startswith("x-first-death")
                and not k.startswith("x-last-death")
            }
            republished = target.prepare_message(
                message.body,
                content_type=message.properties.get("content_type"),
                content_encoding=message.properties.get("content_encoding"),
                headers=headers,
                properties={"delivery_mode": 2},
            )
            # Confirmed by the broker first, acknowledged second: an interruption between
            # the two can only leave the event in both places, never in neither.
            target.basic_publish_confirm(republished, exchange, routing_key, confirm_timeout=30)
            source.basic_ack(message.delivery_tag)
            replayed += 1
        source.close()  # unacknowledged, filtered-out messages go back where they were
    finally:
        connection.release()
        signal.signal(signal.SIGINT, previous)
    print(f"replayed {replayed} event(s); {skipped} left in {arguments.queue} by --filter")
    return 0


def _json_or_none(body: bytes | str) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _dead_lettered_from(message: Any) -> tuple[str, str]:
    deaths = (message.properties.get("application_headers") or {}).get("x-death") or []
    if not deaths:
        raise ToolError("a message has no x-death header: is this a dead-letter queue?", 1)
    first = deaths[0]
    routing_keys = first.get("routing-keys") or [""]
    return str(first.get("exchange", "")), str(routing_keys[0])



COMMAND = Command(
    "replay",
    "Resend dead-lettered events to their original exchange and routing key.",
    "eventlog replay orders-dead-letters --count 100 --filter event_type=order_*",
    _add_replay,
    _run_replay,
)
