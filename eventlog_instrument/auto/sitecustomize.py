"""Start-up hook of ``eventlog-instrument``: instruments the program, then runs its own
``sitecustomize`` if it has one.

The launcher puts this folder first on ``PYTHONPATH``, so every Python process of the
program (subprocesses too) runs it once, at start-up. Nothing here may stop the program:
a failure is reported in one line on standard error and the program runs uninstrumented.
"""

import sys

try:
    from eventlog_instrument.bootstrap import run_startup_hook
except ImportError as error:
    print(
        f"eventlog-instrument: {sys.executable} cannot import eventlog_instrument ({error}); "
        "running uninstrumented",
        file=sys.stderr,
    )
else:
    run_startup_hook(__file__)
