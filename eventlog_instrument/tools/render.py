"""One readable line per envelope, for ``tail`` and ``inspect``."""

from __future__ import annotations

import json
from typing import Any

from eventlog_instrument import constants as c

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

