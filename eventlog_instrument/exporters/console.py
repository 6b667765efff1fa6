"""``console``: one JSON envelope per line on standard output, the default exporter."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters.base import EventExporter


class ConsoleEventExporter(EventExporter):
    """Writes each envelope as a JSON line to ``sys.stdout`` (looked up at write time)."""

    def deliver(self, events: Sequence[Event], timeout: float) -> list[Event]:
        if events:
            stream = sys.stdout
            stream.write("".join(event.body.decode("utf-8") + "\n" for event in events))
            stream.flush()
        return []
