"""``memory``: keeps envelopes in memory, the test kit for users of this package.

    exporter = InMemoryEventExporter()
    EventLogInstrumentor().instrument(exporters=[exporter])
    ...
    exporter.wait_for(1)
    assert exporter.events[0]["event_type"] == "entrypoint_fired"
    exporter.clear()
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters.base import EventExporter
from eventlog_instrument.realthreads import allocate_lock
from eventlog_instrument.settings import Settings


class InMemoryEventExporter(EventExporter):
    """Collects every delivered envelope, in delivery order."""

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self._lock = allocate_lock()
        self._events: list[Event] = []

    def check(self, timeout: float) -> str:
        """Memory needs no connection."""
        return "no broker"

    @property
    def events(self) -> list[dict[str, Any]]:
        """The envelopes delivered so far (a copy)."""
        with self._lock:
            return [event.envelope for event in self._events]

    @property
    def raw_events(self) -> list[Event]:
        """The delivered events with their routing facts and encoded bodies (a copy)."""
        with self._lock:
            return list(self._events)

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until ``count`` envelopes arrived; return them, or raise ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events
            if len(events) >= count:
                return events
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(events)} of {count} events arrived within {timeout}s")
            time.sleep(0.005)

    def deliver(self, events: Sequence[Event], timeout: float) -> list[Event]:
        with self._lock:
            self._events.extend(events)
        return []
