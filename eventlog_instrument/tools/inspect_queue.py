"""``eventlog inspect``: the messages of a RabbitMQ queue, left where they are."""

from __future__ import annotations

import argparse
import json
import sys

from eventlog_instrument.settings import Settings
from eventlog_instrument.tools.brokers import amqp_connection, queue_size
from eventlog_instrument.tools.command import EXIT_USAGE, Command, ToolError
from eventlog_instrument.tools.filters import positive
from eventlog_instrument.tools.render import event_text


def _add_inspect(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queue", metavar="QUEUE", help="a RabbitMQ queue")
    parser.add_argument("--count", type=positive, default=10, help="messages to show [10]")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of text")


def _run_inspect(arguments: argparse.Namespace, settings: Settings) -> int:
    if arguments.broker != "amqp":
        raise ToolError("inspect reads RabbitMQ queues only", EXIT_USAGE)
    connection = amqp_connection(settings)
    try:
        channel = connection.channel()
        total = queue_size(channel, arguments.queue)
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
    return event_text(envelope)



COMMAND = Command(
    "inspect",
    "Show the messages of a RabbitMQ queue without consuming them.",
    "eventlog inspect evt-orders-log_event--audit.on_event --count 5",
    _add_inspect,
    _run_inspect,
)
