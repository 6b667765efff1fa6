"""Running a benchmark's variant program, whose failure says why."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

STDERR_SHOWN = 4000
"""Characters of a failed program's stderr (its end) put in the error."""


def completed(command: Sequence[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to its end, output captured; raise with the end of its stderr if
    it fails (``check=True`` would keep the stderr, the one place that says why)."""
    result = subprocess.run(list(command), capture_output=True, text=True, env=dict(env))
    if result.returncode != 0:
        arguments = " ".join(command[3:]) if command[1:2] == ["-c"] else " ".join(command)
        raise RuntimeError(
            f"variant {arguments!r} exited with {result.returncode}:\n"
            f"{result.stderr[-STDERR_SHOWN:]}"
        )
    return result
