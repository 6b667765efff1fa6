"""kafka-python's logging while the ``kafka`` exporter runs: one line per kafka-python
logger every 10 seconds (an outage otherwise logs several lines a second, each module
its own messages)."""

from __future__ import annotations

import logging
import time

LOG_INTERVAL = 10.0
"""Seconds between two records of one kafka-python logger."""


class _RateLimit(logging.Filter):
    """Lets one record per logger through every 10 seconds: an outage makes each
    kafka-python module log several different messages, so a limit per message let a
    few lines a second through."""

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = record.name
        now = time.monotonic()
        if now - self._last.get(key, -LOG_INTERVAL) < LOG_INTERVAL:
            return False
        self._last[key] = now
        return True


_kafka_rate_limit = _RateLimit()


def _kafka_loggers() -> list[logging.Logger]:
    """Every kafka-python logger: each module has its own, and a filter on the ``kafka``
    logger would not see its children's records."""
    return [
        logger for name, logger in list(logging.Logger.manager.loggerDict.items())
        if (name == "kafka" or name.startswith("kafka.")) and isinstance(logger, logging.Logger)
    ]


def quieten() -> None:
    """Rate-limit every kafka-python logger that exists (import kafka first)."""
    for logger in _kafka_loggers():
        if _kafka_rate_limit not in logger.filters:
            logger.addFilter(_kafka_rate_limit)


def restore() -> None:
    """Let kafka-python log as it would."""
    for logger in _kafka_loggers():
        logger.removeFilter(_kafka_rate_limit)
