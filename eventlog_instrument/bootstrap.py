"""What the launcher's start-up hook does in each Python process it starts.

1. Instrument: ``EventLogInstrumentor().instrument()`` with the settings the launcher
   put in the environment, on first use: when a module an instrumentor wraps, or one
   through which the program makes events, is imported (see
   :mod:`eventlog_instrument.lazystart`). Until then neither the OpenTelemetry SDK nor
   an exporter's client is imported, so a subprocess that handles no call pays for
   neither. Framework hooks wait for their modules' import (wrapt post-import hooks) and
   export threads start with the first event, so ``nameko run`` can still monkey-patch
   with eventlet first. When another distribution registers an instrumentor, whose
   modules are unknown here, the process is instrumented at start-up instead.
2. Flush on SIGTERM: Python's default SIGTERM ends the process without ``atexit``, so
   once the process is instrumented, when nothing else handles SIGTERM yet, a handler
   waits up to a second for calls that are still ending (a server closing a response it
   has sent), flushes pending events (bounded by ``EVENTLOG_SHUTDOWN_TIMEOUT``) and then
   ends the process the default way. It is installed with the instrumenting, not at
   start-up: a process never instrumented has nothing to flush, and ``signal`` with the
   ``enum`` it imports would cost every process 4 ms. Only the main thread may install
   it, so a process whose first trigger is imported by another thread goes without (it
   still flushes through ``atexit`` on a normal exit). Servers that install their own
   handler (gunicorn, Celery, Nameko) exit through ``atexit``.
3. Run the application's own ``sitecustomize``, the next one on ``sys.path``.
"""

from __future__ import annotations

import os
import sys

from eventlog_instrument import TYPE_CHECKING
from eventlog_instrument.lazystart import StartOnImport, triggers

if TYPE_CHECKING:  # not imported at run time: the start-up hook runs in every process
    from collections.abc import Callable
    from types import FrameType

HOOK_MARKER = "EVENTLOG_INSTRUMENT_HOOK"
"""Set by the launcher to the hook folder; children inherit it with ``PYTHONPATH``."""


def run_startup_hook(hook_file: str) -> None:
    hook_folder = os.path.dirname(os.path.realpath(hook_file))
    if os.environ.get(HOOK_MARKER) == hook_folder:
        modules = triggers()
        if modules is None:
            _instrument()
        else:
            StartOnImport(modules, _instrument).install()
    _run_application_sitecustomize(hook_folder)


def _instrument() -> None:
    try:
        from eventlog_instrument import EventLogInstrumentor

        EventLogInstrumentor().instrument()
    except Exception as error:
        print(f"eventlog-instrument: not instrumented: {error}", file=sys.stderr)
    else:
        _flush_on_sigterm(EventLogInstrumentor.shutdown_at_exit)


def _flush_on_sigterm(flush: Callable[[], None]) -> None:
    import contextlib
    import signal

    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def flush_then_terminate(signum: int, frame: FrameType | None) -> None:
        flush()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, flush_then_terminate)


def _run_application_sitecustomize(hook_folder: str) -> None:
    """Find the next ``sitecustomize`` on ``sys.path`` (never this one) and run it."""
    for entry in sys.path:
        if not entry or os.path.realpath(entry) == hook_folder:
            continue
        candidate = os.path.join(entry, "sitecustomize.py")
        if os.path.isfile(candidate):
            import importlib.util

            spec = importlib.util.spec_from_file_location("sitecustomize", candidate)
            if spec is None or spec.loader is None:
                return
            module = importlib.util.module_from_spec(spec)
            sys.modules["sitecustomize"] = module
            spec.loader.exec_module(module)
            return
