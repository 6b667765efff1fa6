"""The README's first command: the demo works with no broker and shows the events."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import TESTS


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
    assert [line.split(" (")[0] for line in tree[:3]] == [
        "gateway.get_order", "gateway.get_order", "gateway.checkout"
    ]
    assert tree[3:] == ["`-- event checkout_started {'item': 'teapot'}"]
