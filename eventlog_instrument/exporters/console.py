"""``console``: one JSON envelope per line on standard output, the default exporter.

When standard output is closed or its reader has gone (a closed pipe), the events are
dropped at once as ``refused``, never retried, so exit is not delayed by retries; the
pipeline logs that once every 10 seconds.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from eventlog_instrument.drops import REFUSED
from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters.base import EventExporter


class ConsoleEventExporter(EventExporter):
    """Writes each envelope as a JSON line to ``sys.stdout`` (looked up at write time)."""

    def deliver(self, events: Sequence[Event], timeout: float) -> list[Event]:
        if events:
            stream = sys.stdout
            try:
                stream.write("".join(event.body.decode("utf-8") + "\n" for event in events))
                stream.flush()
            except (BrokenPipeError, ValueError) as error:  # ValueError: closed file
                for event in events:
                    self.refuse(event, REFUSED, f"standard output: {error}")
        return []
