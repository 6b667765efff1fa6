"""Nameko ``@http`` entrypoints (``HttpRequestHandler`` and its subclasses) as WSGI
requests, through the shared WSGI layer (:mod:`eventlog_instrument.instrumentors.wsgi`).

Nameko serves a request in one greenthread (its ``WsgiApp``) and runs the entrypoint in
a worker greenthread of its own, which the request waits for. So:

* the request is served by :func:`~eventlog_instrument.instrumentors.wsgi.serve`, as a
  Flask request is: its status goes into ``data.status_code`` (a 5xx is an error), the
  answer carries ``X-Call-Id`` under the same rules and off switch, and the call ends
  when the body has been sent;
* the worker is given the request's ``X-Call-Stack`` as Nameko's own ``call_id_stack``
  context data, and the request's trace context re-written by the propagator (only a
  well-formed one: request text never travels on as it came). Nameko's RPC calls and
  events from the worker carry both on, as they carry any worker's;
* the worker's span is the request's: it is a Nameko worker's span (Nameko's call id,
  which is the ``X-Call-Id`` answered) with ``method``, ``route`` (the entrypoint's rule,
  ``/orders/<int:order_id>``) and ``status_code`` in ``data``, and it ends with the
  request rather than with the worker.

A request that starts no worker (no route matched, a wrong signature) is no
entrypoint's call: it has no span and no ``X-Call-Id``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import propagate
from opentelemetry.trace import INVALID_SPAN, Span

from eventlog_instrument import constants as c
from eventlog_instrument.calls import CallIdentity
from eventlog_instrument.instrumentors.wsgi import (
    WsgiRequest,
    current_request,
    serve,
)
from eventlog_instrument.instrumentors.wsgi_environ import (
    captured_headers,
    incoming_call_stack,
    incoming_trace_context,
)
from eventlog_instrument.nameko_context import CALL_ID_STACK_CONTEXT_KEY
from eventlog_instrument.settings import Settings

_DATA = c.ATTR_DATA_PREFIX


def is_http_entrypoint(entrypoint: Any) -> bool:
    """Whether ``entrypoint`` is an ``HttpRequestHandler`` (``@http`` or a subclass)."""
    handlers = sys.modules.get("nameko.web.handlers")
    return handlers is not None and isinstance(entrypoint, handlers.HttpRequestHandler)


def serve_request(
    wrapped: Callable[..., Iterable[bytes]],
    app: Any,
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    call_id_header: bool,
) -> Iterable[bytes]:
    """Serve one request of Nameko's ``WsgiApp`` ``app`` as a call."""
    request = WsgiRequest(environ, app, _no_worker, call_id_header)
    return serve(wrapped, environ, start_response, request)


def _no_worker(request: WsgiRequest, make_current: bool) -> Span:
    request.call_id_header = False
    return INVALID_SPAN


def request_of_worker(entrypoint: Any) -> WsgiRequest | None:
    """The request whose worker is starting here, if it is an HTTP worker not yet linked.

    The worker greenthread has the request's context (the instrumentor passes it to
    greenthreads spawned while a request is served)."""
    request = current_request()
    if request is None or request.span is not None or not is_http_entrypoint(entrypoint):
        return None
    return request


def continued_context_data(request: WsgiRequest, context_data: Any) -> dict[str, Any]:
    """The worker's context data: the server's own (its values win), plus the request's
    valid call stack and trace context."""
    data = dict(context_data or {})
    environ = request.environ
    stack = incoming_call_stack(environ)
    if stack and CALL_ID_STACK_CONTEXT_KEY not in data:
        data[CALL_ID_STACK_CONTEXT_KEY] = list(stack)
    parent = incoming_trace_context(environ)
    if parent is not None:
        trace_headers: dict[str, str] = {}
        propagate.inject(trace_headers, context=parent)
        for field, value in trace_headers.items():
            data.setdefault(field, value)
    return data


def request_data(
    request: WsgiRequest, entrypoint: Any, settings: Settings, reserved: dict[str, Any]
) -> None:
    """Put the request's ``method``, ``route`` and captured headers in the call's
    ``reserved`` record."""
    environ = request.environ
    reserved[_DATA + "method"] = environ.get("REQUEST_METHOD", "GET")
    route = getattr(entrypoint, "url", None)
    if type(route) is str:
        reserved[_DATA + "route"] = route
    headers = settings.capture_request_headers
    if headers:
        reserved[_DATA + "request_headers"] = captured_headers(
            environ, headers, settings.scrub_denylist
        )


def link(request: WsgiRequest, span: Span, call: CallIdentity) -> None:
    """The worker's span is the request's: it answers with its call id, and ends with it."""
    request.span = span
    request.call_id = call.call_id
