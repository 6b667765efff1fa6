"""Nameko's standalone event dispatcher (``nameko.standalone.events.event_dispatcher``)
used inside an instrumented call (a Flask or Django request, a Celery task, a Nameko
worker): its events carry that call's stack and trace context, as the ``nameko.*``
headers a Nameko service's own ``EventDispatcher`` sends, so the handler's stack is the
caller's plus the handler's own call id.

Nameko's standalone dispatcher publishes with no headers at all, and the function it
returns gives no way in. What that function does look up each time it runs is the
module's ``get_event_exchange``: called from there, the hook keeps the calling call's
headers, with the exchange it made, in a context variable; the publish of that exchange
that follows at once adds them (headers the caller gave the dispatcher itself win). So
a dispatcher made before ``instrument()``, or by an ``event_dispatcher`` imported before
it, sends them too. Outside a call nothing is added.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from types import FrameType
from typing import Any

from eventlog_instrument.calls import current_call
from eventlog_instrument.instrumentors.hooks import guarded, inject_call_context, suppressed
from eventlog_instrument.nameko_context import CALL_ID_STACK_CONTEXT_KEY

HEADER_PREFIX = "nameko."
"""Prefix of the AMQP headers Nameko reads as a worker's context data."""

_dispatching: ContextVar[tuple[Any, dict[str, Any]] | None] = ContextVar(
    "eventlog_nameko_standalone_event", default=None
)
_STANDALONE_MODULE = "nameko.standalone.events"


def standalone_event_exchange(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Wrapper of ``get_event_exchange``: a standalone dispatch is about to publish."""
    exchange = wrapped(*args, **kwargs)
    if not suppressed():
        _expect_publish(exchange)
    return exchange


@guarded("put the call stack on a standalone Nameko event")
def _expect_publish(exchange: Any) -> None:
    if _from_standalone_dispatch():
        headers = _call_headers()
        _dispatching.set((exchange, headers) if headers else None)


def with_call_headers(publisher: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``Publisher.publish``'s keyword arguments, with the dispatching call's headers
    when this publishes the standalone event whose exchange was just made."""
    pending = _dispatching.get()
    if pending is None:
        return kwargs
    _dispatching.set(None)
    exchange, headers = pending
    if kwargs.get("exchange") is not exchange:
        return kwargs
    return _merged(publisher, kwargs, headers) or kwargs


def _from_standalone_dispatch() -> bool:
    """Whether the caller of the hooked ``get_event_exchange`` is the standalone
    dispatcher (Nameko's ``EventDispatcher`` and ``EventHandler`` call it too, at set-up)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(_HOOK_MODULES):
        frame = frame.f_back
    return frame is not None and frame.f_globals.get("__name__") == _STANDALONE_MODULE


_HOOK_MODULES = ("eventlog_instrument.", "wrapt.")
"""Modules of the frames between the hooked function and its caller."""


def _call_headers() -> dict[str, Any] | None:
    call = current_call()
    if call is None:
        return None
    carrier: dict[str, Any] = {}
    inject_call_context(carrier, CALL_ID_STACK_CONTEXT_KEY, call)
    return {HEADER_PREFIX + key: value for key, value in carrier.items()}


@guarded("add the call stack to a standalone Nameko event's headers")
def _merged(publisher: Any, kwargs: dict[str, Any], headers: dict[str, Any]) -> dict[str, Any]:
    given = {
        **(getattr(publisher, "publish_kwargs", {}).get("headers") or {}),
        **(kwargs.get("headers") or {}),
        **(kwargs.get("extra_headers") or {}),
    }
    ours = {key: value for key, value in headers.items() if key not in given}
    return {**kwargs, "extra_headers": {**(kwargs.get("extra_headers") or {}), **ours}}
