"""Request headers read from a WSGI environ, where they are ``HTTP_*`` keys."""

from __future__ import annotations

import functools
from typing import Any


def captured_headers(
    environ: dict[str, Any], names: tuple[str, ...], denylist: tuple[str, ...]
) -> tuple[str, ...]:
    """The named request headers as ``"Name: value"``, a value ``***`` when its name holds
    a fragment of ``denylist``."""
    captured = []
    for name in names:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        if value is None:
            continue
        lowered = name.lower()
        if any(fragment.lower() in lowered for fragment in denylist):
            value = "***"
        captured.append(f"{name}: {value}")
    return tuple(captured)


def propagation_headers(environ: dict[str, Any], fields: frozenset[str]) -> dict[str, str]:
    """The request headers the propagator reads (``traceparent``, ``b3``, ...), by their
    header names: WSGI has them as ``HTTP_*`` keys."""
    headers = {}
    for field, key in _environ_keys(fields):
        value = environ.get(key)
        if value is not None:
            headers[field] = value
    return headers


@functools.lru_cache(maxsize=8)
def _environ_keys(fields: frozenset[str]) -> tuple[tuple[str, str], ...]:
    return tuple((field, "HTTP_" + field.upper().replace("-", "_")) for field in fields)
