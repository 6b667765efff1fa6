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
EINTR and runs the handler. The wakeup fd is one per process: when someone else's
(asyncio's) is set, it is left alone and there is no second knock.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal

from eventlog_instrument import realthreads

FIRST_KNOCK = 0.05
"""Seconds the handler gets to run before the first knock; each later wait doubles."""
LONGEST_WAIT = 1.0

_pipe: tuple[int, int] | None = None
_answered = False


def answered() -> None:
    """Called by a SIGTERM handler of ours as it begins: no more knocks."""
    global _answered
    _answered = True


def watch() -> None:
    """Knock again until :func:`answered` when a SIGTERM arrives; from the main thread."""
    global _pipe
    if _pipe is not None:
        return
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    try:
        previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    except ValueError:  # not the main thread
        previous = write_end
    if previous != -1:
        if previous != write_end:
            signal.set_wakeup_fd(previous)
        _close(read_end, write_end)
        return
    _pipe = (read_end, write_end)
    main_thread = _thread.get_ident()
    realthreads.start_thread(lambda: _knock_until(read_end, main_thread))


def _knock_until(read_end: int, main_thread: int) -> None:
    while True:
        try:
            numbers = os.read(read_end, 256)
        except OSError:
            return
        if not numbers:
            return
        wait = FIRST_KNOCK
        while int(signal.SIGTERM) in numbers and not _answered:
            realthreads.pause(wait)
            if _answered:
                break
            signal.pthread_kill(main_thread, signal.SIGTERM)
            wait = min(LONGEST_WAIT, wait * 2)


def forget_after_fork() -> None:
    """In a forked child: the watching thread is the parent's; stop writing to its pipe."""
    global _pipe, _answered
    _answered = False
    if _pipe is None:
        return
    read_end, write_end = _pipe
    _pipe = None
    with contextlib.suppress(ValueError):
        previous = signal.set_wakeup_fd(-1)
        if previous != write_end:
            signal.set_wakeup_fd(previous)
    _close(read_end, write_end)


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
