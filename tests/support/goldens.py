"""Envelopes compared with the golden files of ``tests/golden``."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.paths import GOLDEN


def assert_golden(envelope: dict[str, Any], name: str) -> None:
    """``envelope`` equals ``golden/<name>.json``, key order included.

    A golden string ``"re:<pattern>"`` matches any string value that fully matches the
    pattern (used for uuids and timestamps), ``"number"`` matches any number that is not
    negative (used for durations); every other value must be equal.
    """
    golden = json.loads((GOLDEN / f"{name}.json").read_text())
    assert list(envelope) == list(golden), f"key order differs from golden/{name}.json"
    for key, expected in golden.items():
        _assert_value(envelope[key], expected, key)


def _assert_value(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, str) and expected.startswith("re:"):
        assert isinstance(actual, str) and re.fullmatch(expected[3:], actual), (
            f"{where}: {actual!r} does not match {expected[3:]!r}"
        )
    elif expected == "number":
        assert isinstance(actual, (int, float)) and actual >= 0, f"{where}: {actual!r}"
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r}"
        for index, (item, expected_item) in enumerate(zip(actual, expected, strict=True)):
            _assert_value(item, expected_item, f"{where}[{index}]")
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), f"{where}: {actual!r}"
        for key, value in expected.items():
            _assert_value(actual[key], value, f"{where}.{key}")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"
