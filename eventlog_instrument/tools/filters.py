"""The filters and argument types several subcommands share."""

from __future__ import annotations

import argparse
import fnmatch
import logging
from typing import Any

from eventlog_instrument import constants as c
from eventlog_instrument.log_records import records_of
from eventlog_instrument.log_settings import LOG_LEVELS


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
    level = getattr(arguments, "level", None)
    if level is not None and not has_record_at(envelope, level):
        return False
    call_patterns = getattr(arguments, "call_ids", None)
    if call_patterns:
        stack = envelope.get(c.CALL_STACK) or []
        if not any(fnmatch.fnmatchcase(str(i), p) for i in stack for p in call_patterns):
            return False
    return True


def patterns(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_filters(parser: argparse.ArgumentParser, needs_service: bool = True) -> None:
    parser.add_argument(
        "--service",
        dest="services",
        type=patterns,
        default=[],
        help="service names (globs on Kafka; exact names on RabbitMQ, whose exchanges are "
        "<service>.events)" + (" [required on RabbitMQ]" if needs_service else ""),
    )
    parser.add_argument(
        "--event-type", dest="event_types", type=patterns, default=[], help="event type globs"
    )
    parser.add_argument(
        "--entrypoint", dest="entrypoints", type=patterns, default=[], help="entrypoint name globs"
    )


def positive(text: str) -> int:
    number = int(text)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return number


def seconds(text: str) -> float:
    number = float(text)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return number


def level(text: str) -> int:
    """A level name, any case, as its number (the argument type of ``--level``)."""
    name = text.strip().upper()
    if name not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(LOG_LEVELS)}, got {text!r}")
    return int(logging.getLevelName(name))


def has_record_at(envelope: dict[str, Any], least: int) -> bool:
    """Whether the event's ``data.logs`` holds a record at ``least`` or above."""
    return any(_level_number(record.get("level")) >= least for record in records_of(envelope))


def _level_number(name: object) -> int:
    """The number of a level name as logging writes it (``WARNING``, ``Level 25``); 0 for
    anything else."""
    if not isinstance(name, str):
        return 0
    number = logging.getLevelName(name)
    if isinstance(number, int):
        return number
    prefix, _, digits = name.partition(" ")
    return int(digits) if prefix == "Level" and digits.isdigit() else 0
