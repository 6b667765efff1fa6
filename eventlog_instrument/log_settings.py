"""The settings of log capture: which records a call's event keeps, and how many."""

from __future__ import annotations

from eventlog_instrument.setting_row import Setting

LEVEL_NUMBERS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
"""The standard library's levels by name: written here so that reading the settings (the
launcher does, at every start) does not import ``logging`` (5 ms)."""
LOG_LEVELS = tuple(LEVEL_NUMBERS)
OFF = "off"
MAX_RECORDS_LIMIT = 10_000
"""Most records one event may keep: each is held in memory until the call ends."""


def log_level(value: str) -> int | None:
    """A level name, any case, as its number; ``None`` for ``off``."""
    name = value.strip().upper()
    if name == OFF.upper():
        return None
    number = LEVEL_NUMBERS.get(name)
    if number is None:
        raise ValueError("not a level name")
    return number


def record_count(value: str) -> int:
    number = int(value)
    if not 0 <= number <= MAX_RECORDS_LIMIT:
        raise ValueError("out of range")
    return number


class LogSettings:
    """The settings of log capture (:mod:`eventlog_instrument.log_capture`)."""

    capture_log_level = Setting(
        parse=log_level,
        accepted=", ".join(LOG_LEVELS) + " or " + OFF,
        default="WARNING",
        help="Lowest level of the logging records a call's entrypoint_fired event keeps in "
        "data.logs; off captures none (records still carry the eventlog_* call ids).",
    )
    capture_log_max_records = Setting(
        parse=record_count,
        accepted=f"a whole number from 0 to {MAX_RECORDS_LIMIT}",
        default="50",
        help="Most records kept per event, the first ones; the rest are counted in "
        "data.logs_dropped.",
    )
