"""A second knock for a SIGTERM whose Python handler has not run.

CPython runs a signal's Python handler on the main thread when that thread next checks
for signals: between bytecodes, or when a blocking call it is in fails with EINTR. A
signal that lands after the last check and just before the thread blocks (the
``sem_wait`` of a multiprocessing lock, say) interrupts nothing, and the handler waits
for the lock, which may never come. ``Pool.terminate()`` does this to a worker that is
taking its stop sentinel from the task queue: on a loaded machine about one
``with Pool(...)`` in forty never ended, its worker neither flushing nor dying.

The signal module's C handler writes each caught signal's number to the wakeup fd. A
thread of ours reads it and, until the handler says it has begun (:func:`answered`),
sends the signal again to the main thread alone, whose blocking call then fails with
EINTR and runs the handler. It knocks only while SIGTERM's handler is one of ours
(marked ``answers_sigterm_knock``): a handler the application installs later is never
knocked for. A fork from the main thread clears the wakeup fd around it, so a child's
signal never reaches the parent's pipe.

The wakeup fd is one per process and has no getter: :func:`watch` sets ours to learn
the previous one, and when someone else's (asyncio's, gunicorn's) was set, puts it back
at once, passing on any byte that arrived meanwhile, and does not knock.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
from typing import Any

from eventlog_instrument import realthreads

FIRST_KNOCK = 0.05
"""Seconds the handler gets to run before the first knock; each later wait doubles."""
LONGEST_WAIT = 1.0

_pipe: tuple[int, int] | None = None
_answered = False
_cleared_for_fork = False


def answered() -> None:
    """Called by a SIGTERM handler of ours as it begins: no more knocks."""
    global _answered
    _answered = True


def watch() -> None:
    """Knock again until :func:`answered` when a SIGTERM arrives; from the main thread.
    Never raises: without a pipe or a thread there is only no second knock."""
    global _pipe
    if _pipe is not None:
        return
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return
    try:
        os.set_blocking(write_end, False)
        previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        if previous != -1:
            signal.set_wakeup_fd(previous)
            _pass_on(read_end, previous)
        else:
            _pipe = (read_end, write_end)
            main_thread = _thread.get_ident()
            realthreads.start_thread(lambda: _knock_until_answered(read_end, main_thread))
            return
    except Exception:  # ValueError: not the main thread
        if _pipe is not None:
            _pipe = None
            with contextlib.suppress(Exception):
                signal.set_wakeup_fd(-1)
    _close(read_end, write_end)


def _pass_on(read_end: int, owner: int) -> None:
    """Hand the owner of the wakeup fd the bytes written to ours while it was set."""
    os.set_blocking(read_end, False)
    with contextlib.suppress(OSError):
        numbers = os.read(read_end, 512)
        if numbers:
            os.write(owner, numbers)


def _knock_until_answered(read_end: int, main_thread: int) -> None:
    while True:
        try:
            numbers = realthreads.read(read_end, 256)
        except OSError:
            return
        if not numbers:
            return
        wait = FIRST_KNOCK
        while int(signal.SIGTERM) in numbers and not _answered:
            realthreads.pause(wait)
            if _answered or not _ours(signal.getsignal(signal.SIGTERM)):
                break
            signal.pthread_kill(main_thread, signal.SIGTERM)
            wait = min(LONGEST_WAIT, wait * 2)


def _ours(handler: Any) -> bool:
    return bool(getattr(handler, "answers_sigterm_knock", False))


def _before_fork() -> None:
    global _cleared_for_fork
    if _pipe is not None:
        with contextlib.suppress(ValueError):  # a fork from another thread
            previous = signal.set_wakeup_fd(-1)
            if previous == _pipe[1]:
                _cleared_for_fork = True
            else:  # someone else's since: theirs to keep
                signal.set_wakeup_fd(previous)


def _after_fork_in_parent() -> None:
    global _cleared_for_fork
    if _cleared_for_fork and _pipe is not None:
        _cleared_for_fork = False
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(_pipe[1], warn_on_full_buffer=False)


def forget_after_fork() -> None:
    """In a forked child: the watching thread is the parent's; stop writing to its pipe."""
    global _pipe, _answered, _cleared_for_fork
    _answered = _cleared_for_fork = False
    if _pipe is None:
        return
    read_end, write_end = _pipe
    _pipe = None
    with contextlib.suppress(ValueError):
        previous = signal.set_wakeup_fd(-1)
        if previous not in (write_end, -1):
            signal.set_wakeup_fd(previous)
    _close(read_end, write_end)


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent)
