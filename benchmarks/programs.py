"""Running a benchmark's variant program, whose failure says why."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

STDERR_SHOWN = 4000
"""Characters of a failed program's stderr (its end) put in the error."""


def completed(command: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to its end, output captured; raise with the end of its stderr if
    it fails (``check=True`` would keep the stderr, the one place that says why)."""
    command = list(command)
    result = subprocess.run(command, capture_output=True, text=True, env=dict(env))
    if result.returncode != 0:
        # named by what follows ``-c code`` (valgrind's wrapping too), not by the code
        shown = command[command.index("-c") + 2 :] if "-c" in command else command
        raise RuntimeError(
            f"variant {' '.join(shown)!r} exited with {result.returncode}:\n"
            f"{result.stderr[-STDERR_SHOWN:]}"
        )
    return result
