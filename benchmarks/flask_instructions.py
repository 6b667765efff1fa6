"""Flask per-request cost in CPU instructions, counted by valgrind's callgrind.

The same variants as ``flask_overhead.py``, each run twice under callgrind: with one
timed request and with ``--requests`` more; the difference divided by ``--requests`` is
what one request costs, export thread included. Unlike a wall-clock time, the count is
the same from run to run whatever else the machine does, so it shows a change of a few
percent that the timing noise of a shared 2-core VM hides. It does not see waiting: time
an application thread spends waiting for the GIL, which the wall-clock table does.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from flask_overhead import VARIANT_CODE, VARIANT_ENV, VARIANTS

_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(variant: str, requests: int) -> int:
    """Instructions the whole process ran for ``requests`` timed requests (plus warm-up)."""
    completed = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, "-c", VARIANT_CODE, variant, str(requests)],
        capture_output=True, text=True, check=True, env=VARIANT_ENV,
    )
    found = _COLLECTED.search(completed.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total for {variant}:\n{completed.stderr}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("flask_instructions.py needs valgrind (Debian package valgrind)")
    runs = [(variant, count) for variant in VARIANTS for count in (1, 1 + args.requests)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        totals = dict(zip(runs, pool.map(lambda run: instructions(*run), runs), strict=True))
    per_request = {
        variant: (totals[variant, 1 + args.requests] - totals[variant, 1]) / args.requests
        for variant in VARIANTS
    }
    bare = per_request["bare"]
    print(f"Flask per-request cost in instructions (callgrind, {args.requests} requests, "
          "export thread included):\n")
    print("| variant | instructions per request | added | vs bare |")
    print("|---|---|---|---|")
    for variant, label in VARIANTS.items():
        count = per_request[variant]
        print(f"| {label} | {count:,.0f} | {count - bare:+,.0f} | {count / bare:.2f} |")


if __name__ == "__main__":
    main()
