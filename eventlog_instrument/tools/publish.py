"""``eventlog publish``: validate an envelope and publish it, to test consumers.

The envelope is read as strict JSON: ``NaN``, ``Infinity`` and ``-Infinity`` are refused,
as every consumer's strict parser would refuse the published body.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from eventlog_instrument import constants as c
from eventlog_instrument.envelope import Event
from eventlog_instrument.settings import Settings
from eventlog_instrument.tools.brokers import broker_location, exporter_for
from eventlog_instrument.tools.command import EXIT_USAGE, Command, ToolError

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


def _add_publish(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "envelope", metavar="ENVELOPE.json", help="a JSON envelope file, or - for stdin"
    )


def validate_envelope(text: str, source: str) -> dict[str, Any]:
    """The envelope in ``text``, or a ToolError naming what is wrong with it."""
    try:
        envelope = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise ToolError(f"{source} is not JSON: {error}", EXIT_USAGE) from None
    except ValueError as error:
        raise ToolError(f"{source}: {error}", EXIT_USAGE) from None
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


def _refuse_constant(name: str) -> None:
    """NaN and Infinity are Python's extensions: no strict JSON parser reads them."""
    raise ValueError(f"{name} is not JSON (strict JSON has no NaN or Infinity)")


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
        json.dumps(envelope, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(),
    )
    exporter = exporter_for(arguments.broker, settings)
    try:
        undelivered = exporter.deliver([event], settings.amqp_timeout * 2)
        where = broker_location(arguments.broker, settings)
        refusals = exporter.take_refusals()
        if refusals:
            raise ToolError(f"the broker refused the event ({where}): {refusals[0].detail}", 1)
        if undelivered:
            raise ToolError(f"the broker did not confirm the event ({where})")
    finally:
        exporter.shutdown()
    print(
        f"published {envelope[c.EVENT_TYPE]} of {envelope[c.SERVICE_NAME]} [{envelope[c.CALL_ID]}]"
    )
    return 0



COMMAND = Command(
    "publish",
    "Validate an envelope and publish it, to test consumers.",
    "eventlog publish envelope.json",
    _add_publish,
    _run_publish,
)
