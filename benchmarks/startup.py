"""Start-up time of ``python -c pass``: bare vs under ``eventlog-instrument``, side by side.

Alternates the two commands, ``--runs`` times each, and prints the medians. The
package's bytecode is compiled first, as installing a wheel does: the bench session
installs the checkout editable, and with ``PYTHONDONTWRITEBYTECODE`` set (as on this
project's machines) every process would otherwise compile each module it imports from
source, 18 ms a start that no installed copy pays.
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    import eventlog_instrument

    compileall.compile_dir(Path(eventlog_instrument.__file__).parent, quiet=1)
    commands = {
        "bare": [sys.executable, "-c", "pass"],
        "eventlog-instrument": [str(BIN / "eventlog-instrument"), sys.executable, "-c", "pass"],
    }
    timings: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(args.runs):
        for label, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, check=True)
            timings[label].append((time.perf_counter() - started) * 1000)
    bare = statistics.median(timings["bare"])
    print(f"Start-up of `python -c pass`, median of {args.runs} runs:\n")
    print("| command | ms | added ms |")
    print("|---|---|---|")
    for label in commands:
        median = statistics.median(timings[label])
        print(f"| {label} | {median:.0f} | {median - bare:+.0f} |")


if __name__ == "__main__":
    main()
