"""The worker half of :class:`~eventlog_instrument.processor.EventLogSpanProcessor`:
the state it shares with the application's threads, and what runs on its thread.

The worker takes batches from the bounded queue, has the outlet build and deliver
them, retries what was not delivered with a backoff (at most 5 s), and at shutdown
delivers until the deadline, then counts what is left as ``shutdown``. Events taken
from the queue and still being built count as left too, so an event is never lost
between the queue and a delivery. An event that ends after shutdown counted what it
left is delivered at once, on the thread that ended it, within what is left of the
deadline.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from opentelemetry import context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY
from opentelemetry.sdk.trace import ReadableSpan

from eventlog_instrument.drops import SHUTDOWN, DropLedger
from eventlog_instrument.exporters.base import Refusal
from eventlog_instrument.outlet import Outlet
from eventlog_instrument.realthreads import RealEvent, allocate_lock, pause

_RETRY_BACKOFF_MAX = 5.0
SUPPRESSED = context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True)
"""The context the worker publishes in: the exporter's own traffic makes no spans."""


class ExportWorker:
    """The queue, the pending batch, the counts, and the worker thread's loop."""

    _max_queue_size: int
    _batch_size: int
    _schedule_delay: float
    _export_timeout: float
    _shutdown_timeout: float
    _outlet: Outlet
    name: str

    def _reset_state(self) -> None:
        self.accepted = 0
        """Events that reached this processor; each ends exported or dropped."""
        self.exported = 0
        """Events the exporter confirmed as delivered."""
        self._drops = DropLedger(self.name, self._max_queue_size)
        self._queue: deque[Any] = deque()
        """What the exporter builds its events from (see ``EventExporter.record_of``)."""
        self._pending: list[Any] = []
        self._building = 0
        """Events the worker took from the queue and is building into ``_pending``."""
        self._late: deque[Any] = deque()
        self._wakeup = RealEvent()
        self._stopping = RealEvent()
        self._flush_waiters: list[RealEvent] = []
        self._flush_lock = allocate_lock()
        self._settle_lock = allocate_lock()
        self._late_lock = allocate_lock()
        self._settled = False
        """Set once shutdown counted what it left; later events are delivered one by one."""
        self._finished = False
        self._deadline = 0.0
        self._worker: RealEvent | None = None
        """Set when the worker thread has finished; ``None`` before it started."""

    def _run(self) -> None:
        context.attach(SUPPRESSED)
        while not self._stopping.is_set():
            self._wakeup.wait(self._schedule_delay)
            self._wakeup.clear()
            with self._flush_lock:
                waiters, self._flush_waiters = self._flush_waiters, []
            delivered_all = self._deliver_queued(deadline=None)
            for waiter in waiters:
                if delivered_all:
                    waiter.set()
                else:
                    self._flush_waiters.append(waiter)
        self._deliver_queued(deadline=self._deadline)
        self._settle()
        self._outlet.close(self._deadline - time.monotonic())
        for waiter in self._flush_waiters:
            waiter.set()

    def _settle(self) -> None:
        """Count what is still queued as dropped at shutdown; deliver later events at once."""
        with self._settle_lock:
            if self._settled:
                return
            self._settled = True
            lost = len(self._queue) + len(self._pending) + self._building
            self._queue.clear()
            self._pending = []
        if lost:
            self._drops.drop(SHUTDOWN, lost, detail=self._shutdown_detail())

    def _shutdown_detail(self) -> str:
        bound, error = f"{self._shutdown_timeout * 1000:.0f} ms", self._outlet.last_error
        return f"{bound}; last error: {error}" if error else bound

    def _deliver_queued(self, deadline: float | None) -> bool:
        """Publish until the queue is empty; ``False`` when stopped or out of time first."""
        failures = 0
        while self._pending or self._queue:
            if not self._pending:
                if not self._build_batch():
                    return False
                continue
            timeout = self._export_timeout
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    return False
            batch = self._pending
            undelivered, refusals = self._outlet.deliver(batch, timeout)
            with self._settle_lock:
                if self._settled:  # shutdown gave up on this batch and counted it
                    return False
                self._settle_refusals(batch, undelivered, refusals)
                self._pending = undelivered
            if not undelivered:
                failures = 0
                continue
            failures += 1
            backoff = min(_RETRY_BACKOFF_MAX, 0.05 * 2**failures)
            if deadline is None:
                if self._stopping.wait(backoff):
                    return False
            else:
                pause(max(0.0, min(backoff, deadline - time.monotonic())))
        return True

    def _settle_refusals(
        self, batch: Sequence[Any], undelivered: Sequence[Any], refusals: list[Refusal]
    ) -> None:
        by_reason: dict[str, list[Refusal]] = {}
        for refusal in refusals:
            by_reason.setdefault(refusal.reason, []).append(refusal)
        for reason, alike in by_reason.items():  # one warning for a batch refused alike
            self._drops.drop(reason, len(alike), detail=alike[-1].detail)
        self.exported += len(batch) - len(undelivered) - len(refusals)

    def _build_batch(self) -> bool:
        """Build the next batch into ``_pending``; ``False`` when shutdown gave up on it
        meanwhile (and counted it, as events taken and not built)."""
        batch = self._take_batch()
        self._building = len(batch)
        events, unsendable = self._outlet.build(batch)
        with self._settle_lock:
            self._building = 0
            if self._settled:
                return False
            self._outlet.count(unsendable)
            self._pending = events
        return True

    def _take_batch(self) -> list[Any]:
        batch: list[Any] = []
        queue = self._queue
        while queue and len(batch) < self._batch_size:
            batch.append(queue.popleft())
        return batch

    def _accept_late(self, span: ReadableSpan, attributes: dict[str, Any]) -> None:
        """An event ended during or after shutdown: queue it while the worker still runs,
        else deliver it here within what is left of the deadline."""
        record = self._outlet.record(span, attributes)
        with self._settle_lock:
            if not self._settled:
                self._queue.append(record)
                return
        self._late.append(record)
        # A delivery here can end more events on this thread (a __del__): they wait in
        # _late for the loop instead of taking the lock again.
        while self._late and self._late_lock.acquire(False):
            try:
                self._deliver_late()
            finally:
                self._late_lock.release()

    def _deliver_late(self) -> None:
        token = context.attach(SUPPRESSED)
        try:
            while self._late:
                batch = self._outlet.prepare([self._late.popleft()])
                remaining = self._deadline - time.monotonic()
                if not batch:
                    continue
                undelivered, refusals = (
                    self._outlet.deliver(batch, remaining) if remaining > 0 else (batch, [])
                )
                self._settle_refusals(batch, undelivered, refusals)
                if undelivered:
                    self._drops.drop(SHUTDOWN, len(undelivered), detail=self._shutdown_detail())
            self._outlet.close(self._deadline - time.monotonic())
        finally:
            context.detach(token)

