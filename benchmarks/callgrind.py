"""Instructions a Python program runs, counted by valgrind's callgrind: how every
``*_instructions.py`` benchmark measures.

Each variant's program runs twice, with one measured unit (a request) and with ``count``
more; the difference divided by ``count`` is what one unit costs, the export thread
included. Unlike a wall-clock time, the count is the same from run to run whatever else
the machine does.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from programs import completed

_COLLECTED = re.compile(r"Collected : (\d+)")


def require_valgrind(script: str) -> None:
    """Exit with a one-line reason when valgrind is not installed."""
    if shutil.which("valgrind") is None:
        sys.exit(f"{script} needs valgrind (Debian package valgrind)")


def instructions(code: str, arguments: Sequence[str], env: Mapping[str, str]) -> int:
    """Instructions the whole process of ``python -c code *arguments`` ran."""
    run = completed(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, "-c", code, *arguments],
        env,
    )
    found = _COLLECTED.search(run.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total for {arguments}:\n{run.stderr}")
    return int(found.group(1))


def per_unit(
    code: str,
    variants: Iterable[Hashable],
    count: int,
    env: Mapping[str, str],
    extra: Sequence[str] = (),
) -> dict[Hashable, float]:
    """Instructions per unit of each variant. A variant is its program's first arguments
    (a string, or a tuple of them); the unit count follows, then ``extra``."""
    keys = list(variants)

    def arguments(key: Hashable, units: int) -> list[str]:
        first = list(key) if isinstance(key, tuple) else [str(key)]
        return [*first, str(units), *extra]

    runs = [(key, units) for key in keys for units in (1, 1 + count)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = pool.map(lambda run: instructions(code, arguments(*run), env), runs)
        totals = dict(zip(runs, counts, strict=True))
    return {key: (totals[key, 1 + count] - totals[key, 1]) / count for key in keys}


def print_against_bare(
    per: Mapping[Hashable, float], labels: Mapping[Hashable, str], unit: str = "request"
) -> None:
    """The table of every variant with what it adds to the one keyed ``"bare"``, per
    ``unit`` (a request, a task)."""
    bare = per["bare"]
    print(f"| variant | instructions per {unit} | added | vs bare |")
    print("|---|---|---|---|")
    for key, label in labels.items():
        count = per[key]
        print(f"| {label} | {count:,.0f} | {count - bare:+,.0f} | {count / bare:.2f} |")
