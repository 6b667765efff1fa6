"""``console``: one JSON envelope per line on standard output, the default exporter.

On a standard output that cannot encode every character (``PYTHONIOENCODING=ascii``,
a ``C`` locale), the events that hold others are written with JSON's ``\\u`` escapes:
the same strict JSON, each event whole, none dropped.

When standard output is closed or its reader has gone (a closed pipe), the events are
dropped at once as ``refused`` ("the output refused them"), never retried, so exit is
not delayed by retries; the pipeline logs that once every 10 seconds.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from eventlog_instrument.drops import REFUSED
from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters.base import EventExporter


class ConsoleEventExporter(EventExporter):
    """Writes each envelope as a JSON line to ``sys.stdout`` (looked up at write time)."""

    refused_by = "the output"

    def check(self, timeout: float) -> str:
        """Standard output needs no connection."""
        return "no broker"

    def deliver(self, events: Sequence[Event], timeout: float) -> list[Event]:
        if events:
            stream = sys.stdout
            try:
                try:
                    stream.write("".join(event.body.decode("utf-8") + "\n" for event in events))
                except UnicodeEncodeError:  # nothing was written: the text is encoded first
                    stream.write("".join(_ascii_line(event.body) for event in events))
                stream.flush()
            except (BrokenPipeError, ValueError) as error:  # ValueError: closed file
                for event in events:
                    self.refuse(event, REFUSED, f"standard output: {error}")
        return []


def _ascii_line(body: bytes) -> str:
    text = body.decode("utf-8")
    if text.isascii():
        return text + "\n"
    return json.dumps(json.loads(text), ensure_ascii=True, separators=(",", ":")) + "\n"
