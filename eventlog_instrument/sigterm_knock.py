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

The signal module's C handler writes each caught signal's number to the wakeup fd. A
thread of ours reads it and, until the handler says it has begun (:func:`answered`),
sends the signal again to the main thread alone, whose blocking call then fails with
EINTR and runs the handler. It knocks only while SIGTERM's handler is one of ours
(marked ``answers_sigterm_knock``): a handler the application installs later is never
knocked for. A fork from the main thread clears the wakeup fd around it, so a child's
signal never reaches the parent's pipe; a forked child watches anew, at once when it
inherited a handler of ours, else when it installs one (it starts exporting).

The wakeup fd is one per process and has no getter: :func:`watch` sets ours to learn
the previous one, and when someone else's (asyncio's, gunicorn's) was set, puts it back
at once, passing on any byte that arrived meanwhile, and does not knock. The start-up
hook imports this module in every launched process, so it imports nothing but
built-in modules.
"""

from __future__ import annotations

import _thread
import os
import sys

from eventlog_instrument import TYPE_CHECKING

if TYPE_CHECKING:
    import signal as signals
else:
    try:
        import _signal as signals  # ``signal`` would import ``enum``, 2-4 ms
    except ImportError:
        import signal as signals

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
        previous = signals.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        if previous != -1:
            signals.set_wakeup_fd(previous)
            _pass_on(read_end, previous)
        else:
            _pipe = (read_end, write_end)
            _start_knocking(read_end, _thread.get_ident())
            return
    except Exception:  # ValueError: not the main thread
        if _pipe is not None:
            _pipe = None
            _quietly(signals.set_wakeup_fd, -1)
    _quietly(os.close, read_end)
    _quietly(os.close, write_end)


def _pass_on(read_end: int, owner: int) -> None:
    """Hand the owner of the wakeup fd the bytes written to ours while it was set."""
    os.set_blocking(read_end, False)
    try:
        numbers = os.read(read_end, 512)
        if numbers:
            os.write(owner, numbers)
    except OSError:
        pass


def _start_knocking(read_end: int, main_thread: int) -> None:
    # The OS's read and locks, not the green ones of an eventlet that patched already.
    read, threads = os.read, _thread
    if "eventlet" in sys.modules:
        from eventlet import patcher

        read, threads = patcher.original("os").read, patcher.original("_thread")
    sleeper = threads.allocate_lock()
    sleeper.acquire()  # never released: a timed acquire of it is a sleep

    def knock_until_answered() -> None:
        signals.pthread_sigmask(signals.SIG_BLOCK, {signals.SIGINT, signals.SIGTERM})
        while True:
            try:
                numbers = read(read_end, 256)
            except OSError:
                return
            if not numbers:
                return
            wait = FIRST_KNOCK
            while signals.SIGTERM in numbers and not _answered:
                sleeper.acquire(True, wait)
                if _answered or not ours(signals.getsignal(signals.SIGTERM)):
                    break
                signals.pthread_kill(main_thread, signals.SIGTERM)
                wait = min(LONGEST_WAIT, wait * 2)

    threads.start_new_thread(knock_until_answered, ())


def ours(handler: object) -> bool:
    """Whether ``handler`` is a SIGTERM handler of ours, which calls :func:`answered`."""
    return bool(getattr(handler, "answers_sigterm_knock", False))


def _before_fork() -> None:
    global _cleared_for_fork
    if _pipe is None:
        return
    try:
        previous = signals.set_wakeup_fd(-1)
    except ValueError:  # a fork from another thread
        return
    if previous == _pipe[1]:
        _cleared_for_fork = True
    else:  # someone else's since: theirs to keep
        signals.set_wakeup_fd(previous)


def _after_fork_in_parent() -> None:
    global _cleared_for_fork
    if _cleared_for_fork and _pipe is not None:
        _cleared_for_fork = False
        _quietly(signals.set_wakeup_fd, _pipe[1], warn_on_full_buffer=False)


def _after_fork_in_child() -> None:
    """The watching thread is the parent's: stop writing to its pipe, and watch anew
    when the child inherited a handler of ours."""
    global _pipe, _answered, _cleared_for_fork
    _answered = _cleared_for_fork = False
    if _pipe is None:
        return
    read_end, write_end = _pipe
    _pipe = None
    try:
        previous = signals.set_wakeup_fd(-1)
        if previous not in (write_end, -1):
            signals.set_wakeup_fd(previous)
    except ValueError:
        pass
    _quietly(os.close, read_end)
    _quietly(os.close, write_end)
    if ours(signals.getsignal(signals.SIGTERM)):
        watch()


def _quietly(function: object, *arguments: object, **options: object) -> None:
    # not contextlib.suppress: contextlib is not imported at start-up
    try:  # noqa: SIM105
        function(*arguments, **options)  # type: ignore[operator]
    except (OSError, ValueError):
        pass


os.register_at_fork(
    before=_before_fork, after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
