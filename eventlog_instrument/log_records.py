"""A call's captured log records, kept on its record, and the ``data`` they become.

:mod:`eventlog_instrument.log_capture` adds one :class:`CapturedLogs` to the package's
record of a call span (see :mod:`eventlog_instrument.calls`) when the call logs its
first record; the envelope turns it into ``data.logs`` and ``data.logs_dropped``
(:func:`logs_data`). The records are kept as plain tuples: the ``LogRecord`` itself
holds the caller's arguments and, with ``exc_info``, a traceback and all its frames.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from eventlog_instrument import constants as c
from eventlog_instrument.strict_json import ValueRules

LOGS_KEY = c.RESERVED_PREFIX + "logs"
"""Record key of a call's :class:`CapturedLogs`."""
LOGS = "logs"
LOGS_DROPPED = "logs_dropped"


class LogEntry(NamedTuple):
    """What an event keeps of one record."""

    level: str
    logger: str
    message: str
    offset_ns: int
    """Since the call started; rounded to milliseconds on the export thread, since
    ``round`` to digits costs more than the rest of the capture."""
    error_type: str | None
    error_message: str | None


class CapturedLogs:
    """The records of one call, the first ``most`` kept and the others counted.

    Records may come from several threads or greenthreads of the call at once.
    """

    __slots__ = ("_lock", "dropped", "entries")

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []
        self.dropped = 0
        self._lock = threading.Lock()

    def add(self, entry: LogEntry, most: int) -> None:
        with self._lock:
            if len(self.entries) < most:
                self.entries.append(entry)
            else:
                self.dropped += 1

    def snapshot(self) -> tuple[list[LogEntry], int]:
        with self._lock:
            return list(self.entries), self.dropped


def logs_data(
    captured: CapturedLogs, rules: ValueRules, scrub: Callable[[str], str]
) -> dict[str, Any]:
    """``logs`` (when a record was kept) and ``logs_dropped`` (when one was not) of an
    event's ``data``: texts made ready by ``rules``, messages scrubbed like every text the
    package captures."""
    entries, dropped = captured.snapshot()
    data: dict[str, Any] = {}
    if entries:
        data[LOGS] = [_item(entry, f"data.logs[{index}].", rules, scrub)
                      for index, entry in enumerate(entries)]
    if dropped:
        data[LOGS_DROPPED] = dropped
    return data


def _item(
    entry: LogEntry, where: str, rules: ValueRules, scrub: Callable[[str], str]
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "level": rules.ready(entry.level, where + "level"),
        "logger": rules.ready(entry.logger, where + "logger"),
        "message": rules.free_text(entry.message, where + "message", scrub),
        "offset_ms": round(max(entry.offset_ns, 0) / 1_000_000, 3),
    }
    if entry.error_type is not None:
        item["error_type"] = rules.ready(entry.error_type, where + "error_type")
        item["error_message"] = rules.free_text(entry.error_message, where + "error_message", scrub)
    return item
