"""What the shared WSGI layer reads of an incoming request's environ: the call stack and
trace headers to continue, the headers to capture, whether its path is excluded.

Everything here is read from outside and treated as hostile: a malformed stack is
dropped by :func:`eventlog_instrument.calls.parse_call_stack`, a path that is not
UTF-8 is searched as it came.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from opentelemetry.context import Context

from eventlog_instrument import constants as c
from eventlog_instrument.calls import parse_call_stack
from eventlog_instrument.fastpath import environ_key, environ_keys, propagation_fields
from eventlog_instrument.instrumentors.hooks import propagated_context

_STACK_ENVIRON_KEY = environ_key(c.CALL_STACK_HTTP_HEADER)


def incoming_call_stack(environ: dict[str, Any]) -> tuple[str, ...]:
    """The call ids of the request's ``X-Call-Stack`` to continue; ``()`` when it has
    none or a malformed one."""
    return parse_call_stack(environ.get(_STACK_ENVIRON_KEY))


def excluded(environ: dict[str, Any], patterns: Iterable[Any]) -> bool:
    """Whether one of the regular expressions ``patterns`` is found in the path as the
    framework reads it: a WSGI server hands its UTF-8 bytes over as latin-1 text."""
    path = environ.get("PATH_INFO", "")
    with contextlib.suppress(UnicodeError, AttributeError):  # else searched as it is
        path = path.encode("latin-1").decode("utf-8")
    return any(pattern.search(path) for pattern in patterns)


def captured_headers(
    environ: dict[str, Any], names: tuple[str, ...], denylist: tuple[str, ...]
) -> tuple[str, ...]:
    """The named request headers as ``"Name: value"``, a value ``***`` when its name holds
    a fragment of ``denylist``."""
    captured = []
    for name in names:
        value = environ.get(environ_key(name))
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
    for field, key in environ_keys(fields):
        value = environ.get(key)
        if value is not None:
            headers[field] = value
    return headers


def incoming_trace_context(environ: dict[str, Any]) -> Context | None:
    """The trace context the request's propagator headers carry; ``None`` when they
    carry none or a malformed one."""
    fields = propagation_fields()
    return propagated_context(propagation_headers(environ, fields), fields, None)
