"""Why events are dropped: the named reasons, their counts and their warnings.

Every event a processor accepts ends either exported or dropped under exactly one
reason, so ``exported + sum(dropped_by_reason.values()) == accepted`` once the queue
is empty:

* ``queue_full``: the bounded queue (``EVENTLOG_BSP_MAX_QUEUE_SIZE``) was full;
* ``refused``: the broker or output refused that one event for its own sake (a message
  over the broker's size limit, a closed standard output); it is never retried;
* ``too_large``: its body is over ``EVENTLOG_MAX_EVENT_BYTES``;
* ``shutdown``: still undelivered when ``EVENTLOG_SHUTDOWN_TIMEOUT`` ran out at exit;
* ``invalid``: it could not be built, or its names cannot be routed (an AMQP exchange
  name over 255 bytes, a topic Kafka rejects).

Each reason is logged at most once every 10 seconds, with advice that fits it; the
final report at shutdown names every reason that dropped something.
"""

from __future__ import annotations

import logging
import time

QUEUE_FULL = "queue_full"
REFUSED = "refused"
TOO_LARGE = "too_large"
SHUTDOWN = "shutdown"
INVALID = "invalid"
REASONS = (QUEUE_FULL, REFUSED, TOO_LARGE, SHUTDOWN, INVALID)
WARNING_INTERVAL = 10.0
"""Seconds between two warnings about the same reason."""

_logger = logging.getLogger("eventlog_instrument.processor")


class DropLedger:
    """Per-reason drop counts of one processor, and their rate-limited warnings."""

    def __init__(self, name: str, max_queue_size: int) -> None:
        self.name = name
        self.max_queue_size = max_queue_size
        self.by_reason = dict.fromkeys(REASONS, 0)
        self._reported = dict.fromkeys(REASONS, 0)
        self._last_warning = dict.fromkeys(REASONS, -WARNING_INTERVAL)
        self._last_detail: dict[str, str] = {}
        self.refused_by = "the broker"
        """Who refuses events for their own sake: the broker, or the output."""

    def drop(self, reason: str, count: int = 1, detail: str = "") -> None:
        """Count ``count`` events dropped for ``reason``; warn unless warned in the last 10 s.

        ``detail`` says what went wrong (the broker's words, the exporter's last error).
        """
        self.by_reason[reason] += count
        if detail:
            self._last_detail[reason] = detail
        now = time.monotonic()
        if now - self._last_warning[reason] >= WARNING_INTERVAL:
            self._last_warning[reason] = now
            self._warn(reason)

    def report(self) -> None:
        """Warn about every reason with drops not reported yet (at shutdown)."""
        for reason in REASONS:
            self._warn(reason)

    def _warn(self, reason: str) -> None:
        total = self.by_reason[reason]
        new = total - self._reported[reason]
        if not new:
            return
        self._reported[reason] = total
        detail = self._last_detail.get(reason, "")
        _logger.warning(
            "eventlog_instrument: %s dropped %d event(s) (%d in all): %s",
            self.name, new, total, self._advice(reason, detail),
        )

    def _advice(self, reason: str, detail: str) -> str:
        if reason == QUEUE_FULL:
            if detail:
                return (
                    f"its queue of {self.max_queue_size} was full because its broker is not "
                    f"taking events ({detail}); fix that: raising EVENTLOG_BSP_MAX_QUEUE_SIZE "
                    "only buffers a longer outage"
                )
            return (
                f"its queue of {self.max_queue_size} was full: events came faster than its "
                "broker took them; raise EVENTLOG_BSP_MAX_QUEUE_SIZE to absorb the bursts"
            )
        if reason == REFUSED:
            return f"{self.refused_by} refused them ({detail}); they are not retried"
        if reason == TOO_LARGE:
            return (
                f"each was over EVENTLOG_MAX_EVENT_BYTES ({detail}); send smaller events "
                "or raise the limit (and the broker's)"
            )
        if reason == SHUTDOWN:
            return (
                f"still undelivered when EVENTLOG_SHUTDOWN_TIMEOUT ran out ({detail}); "
                "check the broker is reachable, or raise EVENTLOG_SHUTDOWN_TIMEOUT"
            )
        return f"they cannot be built or routed ({detail})"
