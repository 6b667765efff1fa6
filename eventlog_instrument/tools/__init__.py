"""``eventlog``: watch, explain and replay the event log.

    eventlog tail --service orders --entrypoint 'place_*'
    eventlog tree orders.place_order.1b4e28ba-... --service gateway,orders
    eventlog publish envelope.json
    eventlog inspect evt-orders-log_event--audit.on_event --count 5
    eventlog replay orders-dead-letters --count 100 --filter 'event_type=order_*'
    eventlog check

Every subcommand reads the same connection settings as the exporters (``EVENTLOG_*``
variables, or ``--amqp-uri``, ``--kafka-bootstrap-servers``, ...) and ``--broker``
chooses RabbitMQ (``amqp``, the default) or Kafka. A bad argument or an unreachable
broker is one line on standard error and a non-zero exit; Ctrl-C stops cleanly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eventlog_instrument.settings import SETTINGS_BY_NAME, Settings, SettingsError, load_settings
from eventlog_instrument.tools import check, inspect_queue, publish, replay, tail, tree
from eventlog_instrument.tools.command import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    ToolError,
)

CONNECTION_SETTINGS = (
    "amqp_uri",
    "amqp_timeout",
    "event_type",
    "kafka_bootstrap_servers",
    "kafka_topic",
    "kafka_topic_prefix",
    "kafka_topic_suffix",
    "kafka_security_protocol",
    "exporters",
)
FLAG_OVERRIDES = {"event_type": "--routing-key"}
"""``--event-type`` filters events by their type; the AMQP routing key needs another flag."""
COMMANDS = (tail.COMMAND, tree.COMMAND, publish.COMMAND, inspect_queue.COMMAND,
            replay.COMMAND, check.COMMAND)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Watch, explain and replay the event log.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        subparser = subparsers.add_parser(
            command.name,
            help=command.help,
            description=command.help,
            epilog=f"example:\n  {command.example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        connection = subparser.add_argument_group("connection (default: the EVENTLOG_* variables)")
        connection.add_argument("--broker", choices=("amqp", "kafka"), default="amqp")
        for name in CONNECTION_SETTINGS:
            setting = SETTINGS_BY_NAME[name]
            connection.add_argument(
                FLAG_OVERRIDES.get(name, "--" + name.replace("_", "-")),
                dest=name,
                metavar="VALUE",
                help=f"{setting.help} [{setting.env}]",
            )
        command.add_arguments(subparser)
        subparser.set_defaults(run=command.run)
    return parser


def settings_from(arguments: argparse.Namespace) -> Settings:
    options = {
        name: getattr(arguments, name)
        for name in CONNECTION_SETTINGS
        if getattr(arguments, name) is not None
    }
    return load_settings(**options)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        settings = settings_from(arguments)
        return int(arguments.run(arguments, settings) or 0)
    except SettingsError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ToolError as error:
        print(f"{PROG} {arguments.command}: error: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print(f"{PROG} {arguments.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
