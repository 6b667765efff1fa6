"""Where the tests' own files are."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).parent.parent
GOLDEN = TESTS / "golden"
