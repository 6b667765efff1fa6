"""The ``eventlog`` subcommands: tail, tree, publish, inspect, replay, check."""

from __future__ import annotations

import argparse
import fnmatch
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventlog_instrument import constants as c
from eventlog_instrument.envelope import Event
from eventlog_instrument.settings import Settings, mask_secret, mask_uri, redact
from eventlog_instrument.tools import EXIT_USAGE, ToolError
from eventlog_instrument.tools.sources import amqp_events, kafka_events
from eventlog_instrument.tree import build_tree, render_tree

ENVELOPE_TYPES: dict[str, type | tuple[type, ...]] = {
    c.SERVICE_NAME: str,
    c.ENTRYPOINT_PROTOCOL: str,
    c.ENTRYPOINT_NAME: str,
    c.CALL_ID: str,
    c.CALL_STACK: list,
    c.TIMESTAMP: str,
    c.EVENT_TYPE: str,
    c.DATA: dict,
}
COLOURS = {"error": "\033[31m", "ok": "\033[32m", "event": "\033[36m"}
RESET = "\033[0m"


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    example: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Settings], int]


def event_line(envelope: dict[str, Any], colour: bool = False) -> str:
    """One readable line: time, service.entrypoint (protocol), type, duration and outcome
    (or the data), call id."""
    data = envelope.get(c.DATA) or {}
    head = (
        f"{envelope.get(c.TIMESTAMP)} {envelope.get(c.SERVICE_NAME)}."
        f"{envelope.get(c.ENTRYPOINT_NAME)} ({envelope.get(c.ENTRYPOINT_PROTOCOL)})"
    )
    event_type = str(envelope.get(c.EVENT_TYPE))
    if "duration_ms" in data:
        outcome = str(data.get("outcome"))
        detail = f"{data['duration_ms']:.1f} ms {outcome}"
        if data.get("error_type"):
            detail += f" {data['error_type']}: {data.get('error_message')}"
        tone = "error" if outcome == "error" else "ok"
    else:
        detail = json.dumps(data, sort_keys=True)
        tone = "event"
    if colour:
        event_type = f"{COLOURS[tone]}{event_type}{RESET}"
    return f"{head} {event_type} {detail} [{envelope.get(c.CALL_ID)}]"


def matches(envelope: dict[str, Any], arguments: argparse.Namespace) -> bool:
    """Whether ``envelope`` passes the glob filters of tail and tree."""
    checks = (
        (arguments.services, envelope.get(c.SERVICE_NAME)),
        (arguments.event_types, envelope.get(c.EVENT_TYPE)),
        (arguments.entrypoints, envelope.get(c.ENTRYPOINT_NAME)),
    )
    for patterns, value in checks:
        if patterns and not any(fnmatch.fnmatchcase(str(value), p) for p in patterns):
            return False
    call_patterns = getattr(arguments, "call_ids", None)
    if call_patterns:
        stack = envelope.get(c.CALL_STACK) or []
        if not any(fnmatch.fnmatchcase(str(i), p) for i in stack for p in call_patterns):
            return False
    return True


def _patterns(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _add_filters(parser: argparse.ArgumentParser, needs_service: bool = True) -> None:
    parser.add_argument(
        "--service",
        dest="services",
        type=_patterns,
        default=[],
        help="service names (globs on Kafka; exact names on RabbitMQ, whose exchanges are "
        "<service>.events)" + (" [required on RabbitMQ]" if needs_service else ""),
    )
    parser.add_argument(
        "--event-type", dest="event_types", type=_patterns, default=[], help="event type globs"
    )
    parser.add_argument(
        "--entrypoint", dest="entrypoints", type=_patterns, default=[], help="entrypoint name globs"
    )


def _positive(text: str) -> int:
    number = int(text)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return number


def _seconds(text: str) -> float:
    number = float(text)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return number


def _events(
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
    detail = redact(str(error), settings.amqp_uri)
    return ToolError(
        f"broker unreachable ({_where(broker, settings)}): {type(error).__name__}: {detail}"
    )


def _add_tail(parser: argparse.ArgumentParser) -> None:
    _add_filters(parser)
    parser.add_argument(
        "--call-id",
        dest="call_ids",
        type=_patterns,
        default=[],
        help="call id globs (any id in the stack)",
    )
    parser.add_argument(
        "--from-beginning", action="store_true", help="Kafka: start at the oldest event"
    )
    parser.add_argument("--count", type=_positive, help="stop after this many events")
    parser.add_argument("--timeout", type=_seconds, help="stop after this many seconds")
    parser.add_argument(
        "--format",
        choices=("auto", "text", "json"),
        default="auto",
        help="text on a terminal, JSON lines when piped (auto)",
    )


def _run_tail(arguments: argparse.Namespace, settings: Settings) -> int:
    until = time.monotonic() + arguments.timeout if arguments.timeout else None
    as_json = arguments.format == "json" or (arguments.format == "auto" and not sys.stdout.isatty())
    colour = arguments.format == "auto" and sys.stdout.isatty()
    shown = 0
    try:
        events = _events(arguments, settings, until, arguments.from_beginning)
        print(f"eventlog tail: listening ({arguments.broker})", file=sys.stderr, flush=True)
        for envelope in events:
            if not matches(envelope, arguments):
                continue
            print(json.dumps(envelope) if as_json else event_line(envelope, colour), flush=True)
            shown += 1
            if arguments.count and shown >= arguments.count:
                break
    except KeyboardInterrupt:
        pass
    return 0


def _add_tree(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("call_id", metavar="CALL_ID", help="any call id of the chain")
    _add_filters(parser)
    parser.add_argument(
        "--wait",
        type=_seconds,
        default=5.0,
        help="seconds to collect events for (RabbitMQ: from now on; Kafka: "
        "everything since the beginning) [5]",
    )
    parser.add_argument("--json", action="store_true", help="the tree as JSON")


def _run_tree(arguments: argparse.Namespace, settings: Settings) -> int:
    wanted = arguments.call_id
    until = time.monotonic() + arguments.wait
    seen = []
    events = _events(arguments, settings, until, from_beginning=True)
    print(f"eventlog tree: collecting for {arguments.wait:g}s", file=sys.stderr, flush=True)
    try:
        for envelope in events:
            if matches(envelope, arguments):
                seen.append(envelope)
    except KeyboardInterrupt:
        pass
    # The chain is every event sharing an outermost call with an event that names the id.
    outermost = {e[c.CALL_STACK][0] for e in seen if wanted in (e.get(c.CALL_STACK) or [])}
    collected = [e for e in seen if (e.get(c.CALL_STACK) or [None])[0] in outermost]
    roots = build_tree(collected)
    if arguments.json:
        print(json.dumps([_as_json(root) for root in roots], indent=2))
    else:
        print(render_tree(roots), end="")
    if not collected:
        raise ToolError(f"no event of call {wanted} arrived", 1)
    return 0


def _as_json(node: Any) -> dict[str, Any]:
    return {
        "event": node.envelope,
        "events": node.events,
        "children": [_as_json(child) for child in node.children],
    }


def _add_publish(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "envelope", metavar="ENVELOPE.json", help="a JSON envelope file, or - for stdin"
    )


def validate_envelope(text: str, source: str) -> dict[str, Any]:
    """The envelope in ``text``, or a ToolError naming what is wrong with it."""
    try:
        envelope = json.loads(text)
    except json.JSONDecodeError as error:
        raise ToolError(f"{source} is not JSON: {error}", EXIT_USAGE) from None
    if not isinstance(envelope, dict):
        raise ToolError(
            f"{source}: an envelope is a JSON object, got {type(envelope).__name__}", EXIT_USAGE
        )
    for key, expected in ENVELOPE_TYPES.items():
        if key not in envelope:
            raise ToolError(f"{source}: missing key {key!r}", EXIT_USAGE)
        if not isinstance(envelope[key], expected):
            raise ToolError(
                f"{source}: {key!r} must be a JSON {_json_type(expected)}, "
                f"got {json.dumps(envelope[key])}",
                EXIT_USAGE,
            )
    if not envelope[c.CALL_STACK] or not all(isinstance(i, str) for i in envelope[c.CALL_STACK]):
        raise ToolError(f"{source}: 'call_stack' must be a non-empty list of call ids", EXIT_USAGE)
    return envelope


def _json_type(expected: type | tuple[type, ...]) -> str:
    names: dict[Any, str] = {str: "string", list: "array", dict: "object"}
    return names.get(expected, "value")


def _run_publish(arguments: argparse.Namespace, settings: Settings) -> int:
    source = arguments.envelope
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise ToolError(f"cannot read {source}: {error.strerror}", EXIT_USAGE) from None
    envelope = validate_envelope(text, "stdin" if source == "-" else source)
    stack = tuple(envelope[c.CALL_STACK])
    event = Event(
        envelope[c.SERVICE_NAME],
        envelope[c.CALL_ID],
        stack,
        envelope[c.EVENT_TYPE],
        None,
        envelope,
        json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode(),
    )
    exporter = _exporter(arguments.broker, settings)
    try:
        if exporter.deliver([event], settings.amqp_timeout * 2):
            raise ToolError(
                f"the broker did not confirm the event ({_where(arguments.broker, settings)})"
            )
    finally:
        exporter.shutdown()
    print(
        f"published {envelope[c.EVENT_TYPE]} of {envelope[c.SERVICE_NAME]} [{envelope[c.CALL_ID]}]"
    )
    return 0


def _exporter(broker: str, settings: Settings) -> Any:
    if broker == "kafka":
        from eventlog_instrument.exporters.kafka import KafkaEventExporter

        return KafkaEventExporter(settings)
    from eventlog_instrument.exporters.amqp import AmqpEventExporter

    return AmqpEventExporter(settings)


def _where(broker: str, settings: Settings) -> str:
    if broker == "kafka":
        return mask_secret(settings.kafka_bootstrap_servers)
    return mask_uri(settings.amqp_uri)


def _amqp_connection(settings: Settings) -> Any:
    import kombu

    try:
        connection = kombu.Connection(settings.amqp_uri, connect_timeout=settings.amqp_timeout)
        connection.connect()
    except Exception as error:
        raise ToolError(
            f"broker unreachable ({mask_uri(settings.amqp_uri)}): {type(error).__name__}: "
            f"{redact(str(error), settings.amqp_uri)}"
        ) from None
    return connection


def _queue_size(channel: Any, queue: str) -> int:
    try:
        return int(channel.queue_declare(queue, passive=True).message_count)
    except Exception:
        raise ToolError(f"no queue named {queue!r}", 1) from None


def _add_inspect(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queue", metavar="QUEUE", help="a RabbitMQ queue")
    parser.add_argument("--count", type=_positive, default=10, help="messages to show [10]")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of text")


def _run_inspect(arguments: argparse.Namespace, settings: Settings) -> int:
    if arguments.broker != "amqp":
        raise ToolError("inspect reads RabbitMQ queues only", EXIT_USAGE)
    connection = _amqp_connection(settings)
    try:
        channel = connection.channel()
        total = _queue_size(channel, arguments.queue)
        wanted = min(total, arguments.count)
        shown: list[bytes | str] = []
        channel.basic_qos(0, wanted or 1, False)
        while len(shown) < wanted:
            message = channel.basic_get(arguments.queue, no_ack=False)
            if message is None:
                break
            shown.append(message.body)
        # Closing the channel without acknowledging puts every message back where it was.
        channel.close()
    finally:
        connection.release()
    for body in shown:
        print(_body_line(body, arguments.json))
    print(f"{len(shown)} of {total} messages shown; the queue is unchanged", file=sys.stderr)
    return 0


def _body_line(body: bytes | str, as_json: bool) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        envelope = json.loads(text)
    except json.JSONDecodeError:
        return repr(text)
    if as_json or not isinstance(envelope, dict):
        return json.dumps(envelope)
    return event_line(envelope)


def _add_replay(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queue", metavar="QUEUE", help="a dead-letter queue on RabbitMQ")
    parser.add_argument("--count", type=_positive, help="replay at most this many events")
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
    connection = _amqp_connection(settings)
    replayed = skipped = 0
    try:
        source = connection.channel()
        total = _queue_size(source, arguments.queue)
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


def _add_check(parser: argparse.ArgumentParser) -> None:
    del parser


def _run_check(arguments: argparse.Namespace, settings: Settings) -> int:
    failures = 0
    for name in settings.exporters:
        if name == "amqp":
            ok, detail = _check_amqp(settings)
        elif name == "kafka":
            ok, detail = _check_kafka(settings)
        else:
            ok, detail = True, "no broker"
        failures += not ok
        print(f"{name:<8} {detail}")
    return 0 if not failures else 3


def _check_amqp(settings: Settings) -> tuple[bool, str]:
    try:
        connection = _amqp_connection(settings)
    except ToolError as error:
        return False, f"FAILED {error}"
    connection.release()
    return True, f"ok {mask_uri(settings.amqp_uri)}"


def _check_kafka(settings: Settings) -> tuple[bool, str]:
    where = mask_secret(settings.kafka_bootstrap_servers)
    try:
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(
            bootstrap_servers=list(settings.kafka_bootstrap_servers),
            security_protocol=settings.kafka_security_protocol,
        )
        consumer.topics()
        consumer.close()
    except Exception as error:
        return False, f"FAILED broker unreachable ({where}): {type(error).__name__}"
    return True, f"ok {where}"


COMMANDS = (
    Command(
        "tail",
        "Show live events, filtered, as text lines or JSON lines.",
        "eventlog tail --service orders,gateway --event-type entrypoint_fired",
        _add_tail,
        _run_tail,
    ),
    Command(
        "tree",
        "Collect the events of one call chain and print its call tree.",
        "eventlog tree gateway.checkout.9f1c3c5e-... --service gateway,orders --wait 5",
        _add_tree,
        _run_tree,
    ),
    Command(
        "publish",
        "Validate an envelope and publish it, to test consumers.",
        "eventlog publish envelope.json",
        _add_publish,
        _run_publish,
    ),
    Command(
        "inspect",
        "Show the messages of a RabbitMQ queue without consuming them.",
        "eventlog inspect evt-orders-log_event--audit.on_event --count 5",
        _add_inspect,
        _run_inspect,
    ),
    Command(
        "replay",
        "Resend dead-lettered events to their original exchange and routing key.",
        "eventlog replay orders-dead-letters --count 100 --filter event_type=order_*",
        _add_replay,
        _run_replay,
    ),
    Command(
        "check",
        "Connect to every configured exporter's broker, publish nothing, report.",
        "EVENTLOG_EXPORTERS=amqp,kafka eventlog check",
        _add_check,
        _run_check,
    ),
)
