"""A SIGTERM that lands as in ``Pool.terminate()``'s race: while the main thread is
blocked in a call the signal does not interrupt (a lock's ``sem_wait``, a sleep).

The signal is sent to another thread of the child, which runs the C handler and leaves
the Python one pending, as a signal landing just before the ``sem_wait`` does.
Run as a program (under the launcher), it starts one such child and prints its exit
code.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

from eventlog_instrument import dispatch_event, sigterm_knock


def thread_state(native_id: int, process: int | str = "self") -> str:
    """The state letter of a thread (``S``: sleeping in a blocking call)."""
    with open(f"/proc/{process}/task/{native_id}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def wait_until_asleep(native_id: int, process: int | str = "self") -> None:
    """Return once the thread has slept through five checks 10 ms apart (10 s at most)."""
    asleep = 0
    deadline = time.monotonic() + 10
    while asleep < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
        asleep = asleep + 1 if thread_state(native_id, process) == "S" else 0


def sigterm_off_the_main_thread_once_it_sleeps() -> None:
    """From a new thread, once the calling (main) thread sleeps in a blocking call, send
    SIGTERM to that new thread: the main thread's call is not interrupted."""
    main = threading.get_native_id()

    def sigterm_once_main_sleeps() -> None:
        wait_until_asleep(main)  # the GIL is free meanwhile, so "S" means the blocking call
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

    threading.Thread(target=sigterm_once_main_sleeps).start()


def block_then_take_sigterm_off_the_main_thread(lock) -> None:
    dispatch_event("child", {"n": 1})  # starts the export worker and the SIGTERM flush
    sigterm_off_the_main_thread_once_it_sleeps()
    lock.acquire()  # held by the parent for good


def count_sigterms_of_a_handler_installed_later() -> None:
    """Exit with how many times a handler the child installs after it started exporting
    ran, half a second after one SIGTERM: a knock is never for it."""
    dispatch_event("child", {"n": 2})
    if sigterm_knock._pipe is None:
        os._exit(99)  # nothing watches: the test would prove nothing
    calls = []
    signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    os.kill(os.getpid(), signal.SIGTERM)
    deadline = time.monotonic() + 0.5  # time for three knocks, had there been any
    while time.monotonic() < deadline:
        time.sleep(0.01)
    os._exit(len(calls))


def exit_code_of_a_child_that_missed_its_sigterm(timeout: float) -> int | None:
    """Start the child, wait ``timeout`` seconds for it; its exit code, None if it hung."""
    context = multiprocessing.get_context("fork")
    lock = context.Lock()
    lock.acquire()
    child = context.Process(target=block_then_take_sigterm_off_the_main_thread, args=(lock,))
    child.start()
    child.join(timeout)
    code = child.exitcode
    if code is None:
        child.kill()
        child.join()
    lock.release()
    return code


if __name__ == "__main__":
    print(exit_code_of_a_child_that_missed_its_sigterm(30), flush=True)
