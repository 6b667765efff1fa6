"""OS threads, locks and events that eventlet's monkey patching cannot turn green.

The export worker must be a real OS thread (a green one starves under a busy hub, SPEC
§8), and what it shares with application threads must be real locks: a
``threading.Event`` built before ``eventlet.monkey_patch()`` later waits on green locks
(``threading`` looks its lock factory up at call time), so a real thread waiting on it
never wakes. The launcher sets up before ``nameko run`` patches, so this module keeps
its own references to the original ``_thread`` functions, taken when it is first
imported (or from eventlet's saved originals when the patching came first).
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any


def _original_module(name: str, default: ModuleType) -> ModuleType:
    if "eventlet" in sys.modules:
        from eventlet import patcher

        if patcher.is_monkey_patched("thread" if name == "_thread" else name):
            return patcher.original(name)  # type: ignore[no-any-return]
    return default


SHORTEST_GIL_SLICE = 0.0001
"""Longest the export worker keeps the GIL while the application only wakes briefly."""
LONGEST_GIL_SLICE = 0.002
GIL_SHARE = 0.15
"""Slice per second the worker waited to get the GIL back: its share of a busy process."""


_original = _original_module("_thread", _thread)
_sleep: Callable[[float], None] = _original_module("time", time).sleep
allocate_lock: Callable[[], Any] = _original.allocate_lock
_start_new_thread: Callable[..., int] = _original.start_new_thread
get_ident: Callable[[], int] = _original.get_ident
"""This OS thread's id (``pthread_self``), not a greenlet's."""
read: Callable[[int, int], bytes] = _original_module("os", os).read
"""``os.read`` that blocks this OS thread, not a green one."""


def pause(seconds: float = 0.0) -> None:
    """Sleep on the OS clock; ``pause()`` lets a thread waiting for the GIL run first."""
    _sleep(seconds)


class GilSlices:
    """Call :meth:`tick` once per event; it pauses when the worker's slice is used up.

    Left alone, the export worker keeps the GIL for a whole switch interval (5 ms)
    whenever an application thread (an eventlet hub, say) waits for it. So the worker
    pauses after a slice, and sizes the next slice by how long it then waited to get
    the GIL back. An application that wakes briefly (a hub serving RPC calls) gives it
    back at once, and the slices stay at 0.1 ms, so the application never waits long.
    A busy one keeps the GIL for its switch interval, and the slices grow in proportion
    (up to 2 ms), so the export still gets a share (about 13%) instead of starving;
    pausing after every few events starved it.
    """

    __slots__ = ("_count", "_shortest", "_since", "_slice")

    def __init__(self, shortest: float = SHORTEST_GIL_SLICE) -> None:
        self._count = 0
        self._since = time.perf_counter()
        self._shortest = shortest
        self._slice = shortest

    def tick(self) -> None:
        self._count += 1
        if self._count % 4:
            return
        now = time.perf_counter()
        if now - self._since >= self._slice:
            pause()
            self._since = time.perf_counter()
            waited = self._since - now
            self._slice = min(LONGEST_GIL_SLICE, max(self._shortest, waited * GIL_SHARE))


class RealEvent:
    """A ``threading.Event`` for one waiter at a time, on a real OS lock."""

    __slots__ = ("_flag", "_lock")

    def __init__(self) -> None:
        self._flag = False
        self._lock = allocate_lock()
        self._lock.acquire()  # held while the event is clear

    def set(self) -> None:
        self._flag = True
        with contextlib.suppress(RuntimeError):  # already set
            self._lock.release()

    def clear(self) -> None:
        self._flag = False
        self._lock.acquire(False)

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float | None = None) -> bool:
        if self._flag:
            return True
        if self._lock.acquire(True, -1 if timeout is None else max(0.0, timeout)):
            self._lock.release()
        return self._flag


_MAIN_THREAD_SIGNALS = {signal.SIGINT, signal.SIGTERM}
"""Signals our threads leave to the main thread, the only one that runs Python handlers."""


def start_thread(target: Callable[[], None]) -> RealEvent:
    """Run ``target`` on a new OS thread; the returned event is set when it finishes.

    The thread (and any its clients start, which inherit its mask) blocks SIGINT and
    SIGTERM, so the kernel delivers them to the main thread. Delivered here, a handler's
    signal only sets a flag, and a main thread blocked in a lock (a pool worker waiting
    for its next task) never ran the handler: a worker that flushes on SIGTERM hung
    ``Pool.terminate()`` forever.
    """
    finished = RealEvent()

    def run() -> None:
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, _MAIN_THREAD_SIGNALS)
            target()
        finally:
            finished.set()

    _start_new_thread(run, ())
    return finished
