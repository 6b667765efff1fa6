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

from callgrind import per_unit, print_against_bare, require_valgrind
from flask_overhead import VARIANT_CODE, VARIANT_ENV, VARIANTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    require_valgrind("flask_instructions.py")
    per_request = per_unit(VARIANT_CODE, VARIANTS, args.requests, VARIANT_ENV)
    print(f"Flask per-request cost in instructions (callgrind, {args.requests} requests, "
          "export thread included):\n")
    print_against_bare(per_request, VARIANTS)


if __name__ == "__main__":
    main()
