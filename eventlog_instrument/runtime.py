"""What the parts below the switch need to know of it, without importing it.

:class:`~eventlog_instrument.switch.EventLogInstrumentor` fills this module when it
instruments and empties it when it stops: the settings in force, and how to flush and
stop everything (a Celery pool child calls that before it leaves through ``os._exit``).
Manual events, instrumentors and the drop-in dispatcher read it here, so no module
below the switch imports the switch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eventlog_instrument.settings import Settings

settings: Settings | None = None
"""The settings ``instrument()`` last ran with; ``None`` before it ran."""

_stop: Callable[[], None] | None = None


def started(current: Settings, stop: Callable[[], None]) -> None:
    """Called by the switch once it instruments."""
    global settings, _stop
    settings, _stop = current, stop


def stopped() -> None:
    """Called by the switch once it stops."""
    global _stop
    _stop = None


def is_instrumented() -> bool:
    return _stop is not None


def flush_and_stop() -> None:
    """Flush pending events (bounded by ``EVENTLOG_SHUTDOWN_TIMEOUT``) and stop; nothing
    when not instrumented."""
    if _stop is not None:
        _stop()
