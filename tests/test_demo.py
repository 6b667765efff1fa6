"""The README's first command: the demo works with no broker and shows the events."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.paths import TESTS


def test_console_demo_shows_every_request_as_an_event_and_a_tree():
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTLOG_", "OTEL_"))}
    environ["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{environ['PATH']}"
    result = subprocess.run(
        [sys.executable, str(TESTS.parent / "examples" / "demo.py")],
        capture_output=True, text=True, timeout=120, env=environ, check=True,
    )
    assert "GET /orders/1 -> 200" in result.stdout
    assert "GET /orders/9 -> 404 NOT FOUND" in result.stdout
    assert "4 events written by the console exporter:" in result.stdout
    tree = result.stdout.split("as a call tree:\n\n")[1].splitlines()
    # Roots are in timestamp order (whole seconds), ties in the order the spans ended,
    # and a threaded server may end a request's span after the next request began.
    roots = [line for line in tree if not line.startswith(("`--", "|--"))]
    assert sorted(line.split(" (")[0] for line in roots) == [
        "gateway.checkout", "gateway.get_order", "gateway.get_order"
    ]
    checkout = tree.index(next(line for line in roots if line.startswith("gateway.checkout")))
    assert tree[checkout + 1] == "`-- event checkout_started {'item': 'teapot'}"
    assert len(tree) == 4
