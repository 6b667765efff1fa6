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
from typing import Any

from eventlog_instrument import constants as c
from eventlog_instrument.strict_json import ValueRules, cut_to_fit

LOGS_KEY = c.RESERVED_PREFIX + "logs"
"""Record key of a call's :class:`CapturedLogs`."""
LOGS = "logs"
LOGS_DROPPED = "logs_dropped"


LogEntry = tuple[str, str, str, float, "str | None", "str | None"]
"""What an event keeps of one record: its level name, logger name, message, ``created``
time, and its exception's type and message (or ``None``). A plain tuple: a named one
costs a Python call per record on the application's thread."""


class CapturedLogs:
    """The records of one call, the first ``most`` kept and the others counted.

    Records may come from several threads or greenthreads of the call at once. A record
    is kept without the lock (appending is atomic): two threads may both keep one past
    ``most``, and :meth:`snapshot` counts those as dropped.
    """

    __slots__ = ("_lock", "dropped", "entries", "most", "started_ns")

    def __init__(self, started_ns: int, most: int) -> None:
        self.started_ns = started_ns
        """When the call started (0 if unknown: every offset is then 0)."""
        self.most = most
        self.entries: list[LogEntry] = []
        self.dropped = 0
        self._lock = threading.Lock()

    def add(self, entry: LogEntry) -> None:
        if len(self.entries) < self.most:
            self.entries.append(entry)
        else:
            with self._lock:
                self.dropped += 1

    def snapshot(self) -> tuple[list[LogEntry], int]:
        with self._lock:
            entries, dropped = list(self.entries), self.dropped
        kept = entries[: self.most]
        return kept, dropped + len(entries) - len(kept)


def logs_data(
    captured: CapturedLogs, rules: ValueRules, scrub: Callable[[str], str]
) -> dict[str, Any]:
    """``logs`` (when a record was kept) and ``logs_dropped`` (when one was not) of an
    event's ``data``: texts made ready by ``rules``, messages scrubbed like every text the
    package captures."""
    entries, dropped = captured.snapshot()
    data: dict[str, Any] = {}
    if entries:
        data[LOGS] = [_item(entry, captured.started_ns, f"data.logs[{index}].", rules, scrub)
                      for index, entry in enumerate(entries)]
    if dropped:
        data[LOGS_DROPPED] = dropped
    return data


def _item(
    entry: LogEntry, started_ns: int, where: str, rules: ValueRules, scrub: Callable[[str], str]
) -> dict[str, Any]:
    level, logger, message, created, error_type, error_message = entry
    offset_ns = int(created * 1e9) - started_ns if started_ns else 0
    item: dict[str, Any] = {
        "level": rules.ready(level, where + "level"),
        "logger": rules.ready(logger, where + "logger"),
        "message": rules.free_text(message, where + "message", scrub),
        "offset_ms": round(max(offset_ns, 0) / 1_000_000, 3),
    }
    if error_type is not None:
        item["error_type"] = rules.ready(error_type, where + "error_type")
        item["error_message"] = rules.free_text(error_message, where + "error_message", scrub)
    return item


def records_of(envelope: Any) -> list[dict[str, Any]]:
    """The records of an event's ``data.logs`` as read back from a broker: what is not
    shaped as they are (any event can arrive there) is left out."""
    data = envelope.get(c.DATA) if isinstance(envelope, dict) else None
    records = data.get(LOGS) if isinstance(data, dict) else None
    if not isinstance(records, list):
        return []
    return [record for record in records if isinstance(record, dict)]


_COUNT_ROOM = len(',"logs_dropped":') + 8
"""Bytes kept free when an event is cut to fit: room for ``logs_dropped`` to grow."""


def cut_counting_logs(
    envelope: dict[str, Any], metadata_keys: list[str], size: int, bound: int,
    truncated: list[str],
) -> bool:
    """:func:`~eventlog_instrument.strict_json.cut_to_fit`, with the records it cuts from
    ``data.logs`` added to ``data.logs_dropped``: no record leaves uncounted."""
    data = envelope[c.DATA]
    kept_before = _kept(data)
    room = _COUNT_ROOM if kept_before else 0
    if not cut_to_fit(envelope, metadata_keys, size, bound - room, truncated):
        return False
    cut = kept_before - _kept(data)
    if cut:
        dropped = data.get(LOGS_DROPPED)
        data[LOGS_DROPPED] = (dropped if type(dropped) is int else 0) + cut
    return True


def _kept(data: dict[str, Any]) -> int:
    logs = data.get(LOGS)
    return len(logs) if type(logs) is list else 0
