"""When processors stop: together at exit, and in forked children.

* :data:`open_calls` counts the calls that have started and not ended, so that exit
  can wait for a response that is being closed before it flushes.
* :func:`shutdown_together` gives every processor one deadline,
  ``EVENTLOG_SHUTDOWN_TIMEOUT`` from its start: processors whose brokers hang are waited
  for side by side, not one bound after another.
* After ``fork`` each child gets an empty queue, zeroed counts, its own thread and its
  own broker connections (the parent keeps and publishes what it queued).
* A ``multiprocessing`` child (``Process``, ``Pool`` worker; the ``fork`` start method)
  leaves through ``os._exit``, which skips ``atexit``. It runs multiprocessing's exit
  finalizers first, so the child that started exporting registers its flush as one of
  them. (A ``spawn`` or ``forkserver`` child is a new interpreter: when started under
  the launcher it instruments itself and flushes through ``atexit``.)
"""

from __future__ import annotations

import contextlib
import os
import time
import weakref
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

from eventlog_instrument import realthreads

if TYPE_CHECKING:
    from eventlog_instrument.processor import EventLogSpanProcessor

_live: weakref.WeakSet[EventLogSpanProcessor] = weakref.WeakSet()
_forked = False
_child_flush_registered = False
_CHILD_FLUSH_PRIORITY = -100
"""Below every finalizer multiprocessing registers itself, so the flush runs last."""


class OpenCalls:
    """How many instrumented calls have started and not ended, across threads.

    On SIGTERM the start-up hook waits (boundedly) for these before it flushes: a WSGI
    server ends a request's span when it closes the response, just after the client
    already has it, so a flush at that moment would miss the request's event. A deque's
    append and pop are atomic, so counting needs no lock on every request.
    """

    def __init__(self) -> None:
        self._open: deque[None] = deque()

    def started(self) -> None:
        self._open.append(None)

    def ended(self) -> None:
        with contextlib.suppress(IndexError):
            self._open.pop()

    def wait_until_none(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._open:
            if time.monotonic() >= deadline:
                return False
            realthreads.pause(0.005)
        return True


open_calls = OpenCalls()


def register(processor: EventLogSpanProcessor) -> None:
    """Reset ``processor`` in forked children, flush it when such a child exits."""
    _live.add(processor)


def shutdown_together(processors: Iterable[EventLogSpanProcessor]) -> None:
    """Shut ``processors`` down side by side, each by its ``shutdown_timeout`` from now."""
    started = time.monotonic()
    processors = list(processors)
    for processor in processors:
        processor.begin_shutdown(started + processor.shutdown_timeout)
    for processor in processors:
        processor.finish_shutdown()


def worker_started() -> None:
    """Called when a processor starts its worker: in a forked child, flush at its exit."""
    global _child_flush_registered
    if not _forked or _child_flush_registered:
        return
    _child_flush_registered = True
    # Registered now, not at the fork: a multiprocessing child clears the finalizers
    # it inherited when it starts.
    from multiprocessing import util

    util.Finalize(None, _shutdown_live_processors, exitpriority=_CHILD_FLUSH_PRIORITY)


def _shutdown_live_processors() -> None:
    shutdown_together(_live)


def _after_fork_in_child() -> None:
    global _forked, _child_flush_registered
    _forked, _child_flush_registered = True, False
    for processor in list(_live):
        processor.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
