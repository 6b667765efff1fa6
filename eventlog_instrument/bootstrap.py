"""What the launcher's start-up hook does in each Python process it starts.

1. Instrument: ``EventLogInstrumentor().instrument()`` with the settings the launcher
   put in the environment. Only the OpenTelemetry SDK and this package are imported;
   framework hooks wait for their modules' import (wrapt post-import hooks) and export
   threads start with the first event, so ``nameko run`` can still monkey-patch with
   eventlet first.
2. Flush on SIGTERM: Python's default SIGTERM ends the process without ``atexit``, so
   when nothing else handles SIGTERM yet, a handler waits up to a second for calls that
   are still ending (a server closing a response it has sent), flushes pending events
   (bounded by ``EVENTLOG_SHUTDOWN_TIMEOUT``) and then ends the process the default way. Servers
   that install their own handler (gunicorn, Celery, Nameko) exit through ``atexit``.
3. Run the application's own ``sitecustomize``, the next one on ``sys.path``.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
from pathlib import Path
from types import FrameType

HOOK_MARKER = "EVENTLOG_INSTRUMENT_HOOK"
"""Set by the launcher to the hook folder; children inherit it with ``PYTHONPATH``."""


def run_startup_hook(hook_file: str) -> None:
    hook_folder = str(Path(hook_file).resolve().parent)
    if os.environ.get(HOOK_MARKER) == hook_folder:
        _instrument()
    _run_application_sitecustomize(hook_folder)


def _instrument() -> None:
    try:
        from eventlog_instrument import EventLogInstrumentor

        EventLogInstrumentor().instrument()
        if EventLogInstrumentor().is_instrumented:
            _flush_on_sigterm()
    except Exception as error:
        print(f"eventlog-instrument: not instrumented: {error}", file=sys.stderr)


def _flush_on_sigterm() -> None:
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def flush_then_terminate(signum: int, frame: FrameType | None) -> None:
        from eventlog_instrument import EventLogInstrumentor

        EventLogInstrumentor.shutdown_at_exit()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, flush_then_terminate)


def _run_application_sitecustomize(hook_folder: str) -> None:
    """Find the next ``sitecustomize`` on ``sys.path`` (never this one) and run it."""
    for entry in sys.path:
        if not entry or str(Path(entry).resolve()) == hook_folder:
            continue
        candidate = Path(entry) / "sitecustomize.py"
        if candidate.is_file():
            spec = importlib.util.spec_from_file_location("sitecustomize", candidate)
            if spec is None or spec.loader is None:
                return
            module = importlib.util.module_from_spec(spec)
            sys.modules["sitecustomize"] = module
            spec.loader.exec_module(module)
            return
