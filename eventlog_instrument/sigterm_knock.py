"""A second knock for a SIGTERM whose Python handler has not run.

CPython runs a signal's Python handler on the main thread when that thread next checks
for signals: between bytecodes, or when a blocking call it is in fails with EINTR. A
signal that lands after the last check and just before the thread blocks (in
``time.sleep``, or the ``sem_wait`` of a multiprocessing lock) interrupts nothing: the
handler waits for the sleep to end or the lock to come, which may be never. Without a
handler of ours, SIGTERM would simply have ended the process. Seen: ``Pool.terminate()``
hit a worker taking its stop sentinel about once in forty ``with Pool(...)`` on a loaded
machine, and a launched program that printed a line and then slept missed a SIGTERM sent
as the line arrived.

The signal module's C handler writes each caught signal's number to the wakeup fd. Once
a process has events to flush (its main thread started an export worker) and SIGTERM's
handler is one of ours (marked ``answers_sigterm_knock``: the start-up hook's, or a
forked child's), a thread of ours reads that fd and, until the handler says it has begun
(:func:`answered`), sends the signal again to the main thread alone, whose blocking call
then fails with EINTR and runs the handler. A handler the application installs later is
never knocked for. Not covered: a process whose first event comes from another thread
(only the main thread may set the wakeup fd), and one whose wakeup fd someone else
(asyncio, gunicorn, trio) set first, which keeps it.

The wakeup fd has no getter: :func:`watch` sets ours to learn the previous one, puts
someone else's back at once and passes on any byte that arrived meanwhile. Our pipe's
ends are moved above fd 512, so that a program that closes every fd (a daemon) does not
hand their numbers to its next files, into which signals would then be written. A fork
from the main thread clears the wakeup fd around it, so a child's signal never reaches
the parent's pipe; the child watches anew when it exports.
"""

from __future__ import annotations

import contextlib
import os
import signal

from eventlog_instrument import realthreads

FIRST_KNOCK = 0.05
"""Seconds the handler gets to run before the first knock; each later wait doubles."""
LONGEST_WAIT = 1.0
HIGH_FD = 512
"""Our pipe's ends are moved to at least this number, when the fd limit allows."""

_pipe: tuple[int, int] | None = None
_answered = False
_cleared_for_fork = False


def answered() -> None:
    """Called by a SIGTERM handler of ours as it begins: no more knocks."""
    global _answered
    _answered = True


def ours(handler: object) -> bool:
    """Whether ``handler`` is a SIGTERM handler of ours, which calls :func:`answered`."""
    return bool(getattr(handler, "answers_sigterm_knock", False))


def watch() -> None:
    """Knock again until :func:`answered` when a SIGTERM arrives, if SIGTERM's handler is
    ours and this is the main thread. Never raises: at worst there is no second knock."""
    global _pipe
    if _pipe is not None or not ours(signal.getsignal(signal.SIGTERM)):
        return
    try:
        read_end, write_end = _high_pipe()
    except OSError:
        return
    try:
        previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        if previous != -1:
            signal.set_wakeup_fd(previous)
            _pass_on(read_end, previous)
        else:
            _pipe = (read_end, write_end)
            main_thread = realthreads.get_ident()
            realthreads.start_thread(lambda: _knock_until_answered(read_end, main_thread))
            return
    except Exception:  # ValueError: not the main thread
        if _pipe is not None:
            _pipe = None
            with contextlib.suppress(ValueError):
                signal.set_wakeup_fd(-1)
    _close(read_end, write_end)


def _high_pipe() -> tuple[int, int]:
    import fcntl

    ends = []
    for fd in os.pipe():
        try:
            high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
        except OSError:  # a limit of HIGH_FD files or fewer: keep the low number
            ends.append(fd)
        else:
            os.close(fd)
            ends.append(high)
    os.set_blocking(ends[1], False)
    return ends[0], ends[1]


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
        while signal.SIGTERM in numbers and not _answered:
            realthreads.pause(wait)
            if _answered or not ours(signal.getsignal(signal.SIGTERM)):
                break
            signal.pthread_kill(main_thread, signal.SIGTERM)
            wait = min(LONGEST_WAIT, wait * 2)


def _clear_if_ours(write_end: int) -> bool:
    """Unset the wakeup fd if it is still ours (someone else's stays); from the main
    thread, else ValueError."""
    previous = signal.set_wakeup_fd(-1)
    if previous != write_end:
        signal.set_wakeup_fd(previous)
    return previous == write_end


def _before_fork() -> None:
    global _cleared_for_fork
    if _pipe is not None:
        with contextlib.suppress(ValueError):  # a fork from another thread
            _cleared_for_fork = _clear_if_ours(_pipe[1])


def _after_fork_in_parent() -> None:
    global _cleared_for_fork
    if _cleared_for_fork and _pipe is not None:
        _cleared_for_fork = False
        with contextlib.suppress(OSError, ValueError):  # our fd closed since (a daemon)
            signal.set_wakeup_fd(_pipe[1], warn_on_full_buffer=False)


def _after_fork_in_child() -> None:
    """The watching thread is the parent's: stop writing to its pipe."""
    global _pipe, _answered, _cleared_for_fork
    _answered = _cleared_for_fork = False
    if _pipe is None:
        return
    read_end, write_end = _pipe
    _pipe = None
    with contextlib.suppress(ValueError):
        _clear_if_ours(write_end)
    _close(read_end, write_end)


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
