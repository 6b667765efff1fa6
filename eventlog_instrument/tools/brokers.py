"""Reaching the brokers for the subcommands: event streams, connections, exporters;
every failure a one-line :class:`ToolError` with credentials masked."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from typing import Any

from eventlog_instrument.masking import mask_secret, mask_uri, unreachable
from eventlog_instrument.settings import Settings
from eventlog_instrument.tools.command import EXIT_USAGE, ToolError
from eventlog_instrument.tools.sources import amqp_events, kafka_events


def event_source(
    arguments: argparse.Namespace, settings: Settings, until: float | None, from_beginning: bool
) -> Iterator[dict[str, Any]]:
    if arguments.broker == "kafka":
        pattern = ",".join(arguments.services) or "*"
        if "," in pattern:
            raise ToolError("on Kafka, --service takes one glob pattern", EXIT_USAGE)
        return _guard(
            lambda: kafka_events(settings, pattern, from_beginning, until), "kafka", settings
        )
    if not arguments.services or any(set(s) & set("*?[") for s in arguments.services):
        raise ToolError(
            "on RabbitMQ, --service must name the services exactly (their exchanges are "
            "<service>.events); globs work with --broker kafka",
            EXIT_USAGE,
        )
    return _guard(lambda: amqp_events(settings, arguments.services, until), "amqp", settings)


def _guard(
    open_events: Callable[[], Iterator[dict[str, Any]]], broker: str, settings: Settings
) -> Iterator[dict[str, Any]]:
    """Open the source now, and turn broker errors into one-line ToolErrors, masked."""
    try:
        events = open_events()
    except Exception as error:
        raise _unreachable(error, broker, settings) from None
    return _guarded(events, broker, settings)


def _guarded(
    events: Iterator[dict[str, Any]], broker: str, settings: Settings
) -> Iterator[dict[str, Any]]:
    try:
        yield from events
    except (KeyboardInterrupt, ToolError):
        raise
    except Exception as error:
        raise _unreachable(error, broker, settings) from None


def _unreachable(error: Exception, broker: str, settings: Settings) -> ToolError:
    return ToolError(unreachable(broker_location(broker, settings), error, settings.amqp_uri))


def exporter_for(broker: str, settings: Settings) -> Any:
    if broker == "kafka":
        from eventlog_instrument.exporters.kafka import KafkaEventExporter

        return KafkaEventExporter(settings)
    from eventlog_instrument.exporters.amqp import AmqpEventExporter

    return AmqpEventExporter(settings)


def broker_location(broker: str, settings: Settings) -> str:
    if broker == "kafka":
        return mask_secret(settings.kafka_bootstrap_servers)
    return mask_uri(settings.amqp_uri)


def amqp_connection(settings: Settings) -> Any:
    import kombu

    try:
        connection = kombu.Connection(settings.amqp_uri, connect_timeout=settings.amqp_timeout)
        connection.connect()
    except Exception as error:
        raise _unreachable(error, "amqp", settings) from None
    return connection


def queue_size(channel: Any, queue: str) -> int:
    try:
        return int(channel.queue_declare(queue, passive=True).message_count)
    except Exception:
        raise ToolError(f"no queue named {queue!r}", 1) from None

