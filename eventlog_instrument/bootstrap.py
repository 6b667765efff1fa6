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
   when nothing else handles SIGTERM yet, a handler waits up to a second for calls that
   are still ending (a server closing a response it has sent), flushes pending events
   (bounded by ``EVENTLOG_SHUTDOWN_TIMEOUT``) and then ends the process the default way.
   It is installed at start-up, from the main thread, as only that thread can; the
   process may be instrumented later from any thread. It goes through ``_signal``, which
   the interpreter has imported already: ``signal`` would import ``enum``, 2-4 ms of
   every process. Servers that install their own handler (gunicorn, Celery, Nameko)
   exit through ``atexit``.
3. Run the application's own ``sitecustomize``, the next one on ``sys.path``.
"""

from __future__ import annotations

import os
import sys

from eventlog_instrument import TYPE_CHECKING
from eventlog_instrument.lazystart import StartOnImport, triggers

if TYPE_CHECKING:  # not imported at run time: the start-up hook runs in every process
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
        _flush_on_sigterm()
    _run_application_sitecustomize(hook_folder)


def _instrument() -> None:
    try:
        from eventlog_instrument import EventLogInstrumentor

        EventLogInstrumentor().instrument()
    except Exception as error:
        print(f"eventlog-instrument: not instrumented: {error}", file=sys.stderr)


def _flush_on_sigterm() -> None:
    if TYPE_CHECKING:
        import signal as signals
    else:
        try:
            import _signal as signals
        except ImportError:  # an interpreter without CPython's module
            import signal as signals

    if signals.getsignal(signals.SIGTERM) != signals.SIG_DFL:
        return

    flushing: list[int] = []

    def flush_then_terminate(signum: int, frame: FrameType | None) -> None:
        knock = sys.modules.get("eventlog_instrument.sigterm_knock")
        if knock is not None:  # the process exports: see sigterm_knock
            knock.answered()
        if flushing:  # a second SIGTERM during the flush: it ends the process after it
            return
        flushing.append(signum)
        try:
            # Not instrumented yet (the switch not imported, or still being imported by
            # another thread): nothing to flush, nothing worth importing the SDK for.
            switch = sys.modules.get("eventlog_instrument.switch")
            instrumentor = getattr(switch, "EventLogInstrumentor", None)
            if instrumentor is not None:
                instrumentor.shutdown_at_exit()
        finally:
            signals.signal(signals.SIGTERM, signals.SIG_DFL)
            os.kill(os.getpid(), signals.SIGTERM)

    flush_then_terminate.answers_sigterm_knock = True  # type: ignore[attr-defined]
    signals.signal(signals.SIGTERM, flush_then_terminate)


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
