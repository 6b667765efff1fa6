"""Instrumentors: framework hooks that turn calls into spans, found by entry point.

Built in: ``nameko``, ``flask``, ``celery`` and the HTTP clients. A third-party instrumentor is a
:class:`FrameworkInstrumentor` subclass registered under the
``eventlog_instrument.instrumentors`` entry-point group.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points

from eventlog_instrument.constants import INSTRUMENTORS_ENTRY_POINT_GROUP
from eventlog_instrument.instrumentors.framework import FrameworkInstrumentor
from eventlog_instrument.settings import SETTINGS_BY_NAME, Settings

_logger = logging.getLogger(__name__)
ALL = "*"


@dataclass(frozen=True)
class InstrumentorStatus:
    """Whether one registered instrumentor applies here, and why not when it does not."""

    name: str
    instrumentor_class: type[FrameworkInstrumentor] | None
    reason: str | None
    """``None`` when enabled; else why it is not."""


def instrumentor_statuses(settings: Settings) -> list[InstrumentorStatus]:
    """Every registered instrumentor, in entry-point order, with its status."""
    disabled = set(settings.disabled_instrumentations)
    disabled_by = f"disabled by {SETTINGS_BY_NAME['disabled_instrumentations'].env}"
    statuses = []
    for entry_point in entry_points(group=INSTRUMENTORS_ENTRY_POINT_GROUP):
        if ALL in disabled or entry_point.name in disabled:
            statuses.append(InstrumentorStatus(entry_point.name, None, disabled_by))
            continue
        instrumentor_class = entry_point.load()
        reason = instrumentor_class.unavailable_reason()
        statuses.append(
            InstrumentorStatus(entry_point.name, None if reason else instrumentor_class, reason)
        )
    return statuses


def enabled_instrumentors(settings: Settings) -> list[FrameworkInstrumentor]:
    """A new instance of every instrumentor that applies here.

    Each one skipped because of its library says so in one INFO line.
    """
    instrumentors = []
    for status in instrumentor_statuses(settings):
        if status.instrumentor_class is not None:
            instrumentors.append(status.instrumentor_class())
        elif not (status.reason or "").startswith("disabled by"):
            _logger.info(
                "eventlog_instrument: %s instrumentation skipped: %s", status.name, status.reason
            )
    return instrumentors
