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
* ``with Pool(...) as pool:`` ends by ``terminate()``, which SIGTERMs the workers: no
  finalizer runs. So a forked child whose SIGTERM has the default action (it dies)
  gets a handler when its main thread starts exporting: it flushes within
  ``EVENTLOG_SHUTDOWN_TIMEOUT``, then dies by SIGTERM as before. A handler the
  application installed is left alone. A SIGTERM that arrives just as the worker blocks
  on the task queue's lock gets a second knock (:mod:`sigterm_knock`) when the child's
  main thread started exporting, for this handler and for the launcher's start-up
  hook's, which every launched process has and a child of one inherits.
* Not covered: a raw ``os.fork()`` child that leaves through ``os._exit`` (no
  finalizer, no signal runs there); call ``EventLogInstrumentor().uninstrument()``
  before ``os._exit`` to flush its events.
"""

from __future__ import annotations

import os
import signal
import time
import weakref
from collections import deque
from collections.abc import Iterable
from types import FrameType
from typing import TYPE_CHECKING

from eventlog_instrument import realthreads, sigterm_knock

if TYPE_CHECKING:
    from eventlog_instrument.processor import EventLogSpanProcessor

_live: weakref.WeakSet[EventLogSpanProcessor] = weakref.WeakSet()
_forked = False
_child_flush_registered = False
_child_flushing = False
_sigterm_received = False
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
        # not contextlib.suppress: building one costs more than the pop, on every call
        try:  # noqa: SIM105
            self._open.pop()
        except IndexError:
            pass

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
    """Called when a processor starts its worker: in a forked child, flush at its exit;
    in any process, knock again for a SIGTERM its main thread missed."""
    global _child_flush_registered
    if not _forked:
        sigterm_knock.watch()  # the start-up hook's handler, if the launcher started us
        return
    if _child_flush_registered:
        return
    _child_flush_registered = True
    # Registered now, not at the fork: a multiprocessing child clears the finalizers
    # it inherited when it starts.
    from multiprocessing import util

    util.Finalize(None, _flush_child, exitpriority=_CHILD_FLUSH_PRIORITY)
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: only it may set a handler
        return
    sigterm_knock.watch()


def _flush_child() -> None:
    """A forked child's flush at exit; a SIGTERM meanwhile waits for it to end."""
    global _child_flushing
    _child_flushing = True
    try:
        shutdown_together(_live)
    finally:
        _child_flushing = False
    if _sigterm_received:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Pool.terminate() sends SIGTERM while a worker that got its stop sentinel may be
    # flushing in its finalizer already: then that flush ends first.
    global _sigterm_received
    sigterm_knock.answered()
    _sigterm_received = True
    if not _child_flushing:
        _flush_child()


_on_sigterm.answers_sigterm_knock = True  # type: ignore[attr-defined]


def _after_fork_in_child() -> None:
    global _forked, _child_flush_registered, _child_flushing, _sigterm_received
    _forked, _child_flush_registered = True, False
    _child_flushing = _sigterm_received = False
    for processor in list(_live):
        processor.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
