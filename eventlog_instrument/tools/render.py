"""One readable line per envelope, for ``tail`` and ``inspect``."""

from __future__ import annotations

import json
from typing import Any

from eventlog_instrument import constants as c
from eventlog_instrument.log_records import LOGS_DROPPED, records_of

COLOURS = {"error": "\033[31m", "ok": "\033[32m", "event": "\033[36m"}
RESET = "\033[0m"


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



LOG_INDENT = "    "


def event_text(envelope: dict[str, Any], colour: bool = False) -> str:
    """:func:`event_line`, then the event's log records (``data.logs``), one indented
    line each."""
    return "\n".join((event_line(envelope, colour), *log_lines(envelope)))


def log_lines(envelope: dict[str, Any]) -> list[str]:
    """One line per record of ``data.logs`` (offset, level, logger, message, error),
    and how many were not kept; control characters escaped, so that a record is one
    line and cannot drive the terminal."""
    lines = []
    for record in records_of(envelope):
        offset = record.get("offset_ms")
        when = f"+{offset:.1f} ms" if isinstance(offset, (int, float)) else "+? ms"
        line = f"{when} {record.get('level')} {record.get('logger')}: {record.get('message')}"
        if record.get("error_type") is not None:
            line += f" ({record.get('error_type')}: {record.get('error_message')})"
        lines.append(LOG_INDENT + _one_line(line))
    data = envelope.get(c.DATA)
    dropped = data.get(LOGS_DROPPED) if isinstance(data, dict) else None
    if isinstance(dropped, int) and dropped > 0:
        lines.append(f"{LOG_INDENT}... {dropped} more record(s) not kept")
    return lines


def _one_line(text: str) -> str:
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )
