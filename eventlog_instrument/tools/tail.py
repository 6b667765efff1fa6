"""``eventlog tail``: live events, filtered, as text or JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
import time

from eventlog_instrument.settings import Settings
from eventlog_instrument.tools.brokers import event_source
from eventlog_instrument.tools.command import Command
from eventlog_instrument.tools.filters import (
    add_filters,
    level,
    matches,
    patterns,
    positive,
    seconds,
)
from eventlog_instrument.tools.render import event_text


def _add_tail(parser: argparse.ArgumentParser) -> None:
    add_filters(parser)
    parser.add_argument(
        "--call-id",
        dest="call_ids",
        type=patterns,
        default=[],
        help="call id globs (any id in the stack)",
    )
    parser.add_argument(
        "--level",
        type=level,
        help="only events whose data.logs holds a record at this level or above "
        "(DEBUG, INFO, WARNING, ERROR, CRITICAL)",
    )
    parser.add_argument(
        "--from-beginning", action="store_true", help="Kafka: start at the oldest event"
    )
    parser.add_argument("--count", type=positive, help="stop after this many events")
    parser.add_argument("--timeout", type=seconds, help="stop after this many seconds")
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
        events = event_source(arguments, settings, until, arguments.from_beginning)
        print(f"eventlog tail: listening ({arguments.broker})", file=sys.stderr, flush=True)
        for envelope in events:
            if not matches(envelope, arguments):
                continue
            print(json.dumps(envelope) if as_json else event_text(envelope, colour), flush=True)
            shown += 1
            if arguments.count and shown >= arguments.count:
                break
    except KeyboardInterrupt:
        pass
    return 0



COMMAND = Command(
    "tail",
    "Show live events, filtered, as text lines or JSON lines.",
    "eventlog tail --service orders,gateway --event-type entrypoint_fired",
    _add_tail,
    _run_tail,
)
