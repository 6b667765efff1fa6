"""Nameko's standalone event dispatcher (``nameko.standalone.events.event_dispatcher``)
used inside an instrumented call (a Flask or Django request, a Celery task, a Nameko
worker): its events carry that call's stack and trace context, as the ``nameko.*``
headers a Nameko service's own ``EventDispatcher`` sends, so the handler's stack is the
caller's plus the handler's own call id.

Nameko's standalone dispatcher publishes with no headers at all, and the function it
returns gives no way in: the dispatch runs with the caller's headers in a context
variable, which the publish of its ``Publisher`` adds (headers the caller gave the
dispatcher itself win). Outside a call nothing is added. The dispatcher must be made
after ``instrument()`` (the launcher does so before the application is imported).
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from eventlog_instrument.calls import current_call
from eventlog_instrument.instrumentors.hooks import guarded, inject_call_context, suppressed
from eventlog_instrument.nameko_context import CALL_ID_STACK_CONTEXT_KEY

HEADER_PREFIX = "nameko."
"""Prefix of the AMQP headers Nameko reads as a worker's context data."""

_dispatching: ContextVar[dict[str, Any] | None] = ContextVar(
    "eventlog_nameko_standalone_event", default=None
)


def dispatch_standalone_event(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """Wrapper of the ``dispatch`` function a standalone event dispatcher returns."""
    headers = None if suppressed() else _call_headers()
    if not headers:
        return wrapped(*args, **kwargs)
    token = _dispatching.set(headers)
    try:
        return wrapped(*args, **kwargs)
    finally:
        _dispatching.reset(token)


def with_call_headers(publisher: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``Publisher.publish``'s keyword arguments, with the dispatching call's headers
    when a standalone event is being dispatched here."""
    headers = _dispatching.get()
    if headers is None:
        return kwargs
    return _merged(publisher, kwargs, headers) or kwargs


@guarded("put the call stack on a standalone Nameko event")
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
