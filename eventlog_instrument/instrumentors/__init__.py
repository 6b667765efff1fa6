"""Instrumentors: framework hooks that turn calls into spans, found by entry point.

Built in: ``nameko``. A third-party instrumentor is a :class:`BaseInstrumentor`
subclass registered under the ``eventlog_instrument.instrumentors`` entry-point group.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from eventlog_instrument.constants import INSTRUMENTORS_ENTRY_POINT_GROUP
from eventlog_instrument.instrumentors.base import BaseInstrumentor
from eventlog_instrument.settings import Settings

_logger = logging.getLogger(__name__)
ALL = "*"


def enabled_instrumentors(settings: Settings) -> list[BaseInstrumentor]:
    """Every registered instrumentor that is not disabled and whose library is usable.

    Each one skipped for its library says so in one INFO line.
    """
    disabled = set(settings.disabled_instrumentations)
    if ALL in disabled:
        return []
    instrumentors = []
    for entry_point in entry_points(group=INSTRUMENTORS_ENTRY_POINT_GROUP):
        if entry_point.name in disabled:
            continue
        instrumentor_class = entry_point.load()
        reason = instrumentor_class.unavailable_reason()
        if reason is not None:
            _logger.info(
                "eventlog_instrument: %s instrumentation skipped: %s", entry_point.name, reason
            )
            continue
        instrumentors.append(instrumentor_class())
    return instrumentors
