"""WSGI requests as calls: what every WSGI framework's instrumentor shares (Flask's now).

No framework is imported here. A framework's instrumentor wraps its WSGI entry point
with :func:`serve`, and starts the request's SERVER span with
:func:`start_request_span` as soon as it knows the request's names (Flask: once it has
matched the URL). The span is back-dated to the request's arrival, so it covers the
whole request all the same, and it is current from then to the end of the request.

* Incoming: an ``X-Call-Stack`` header (call ids, outermost first, comma separated) is
  continued under the rules of :mod:`eventlog_instrument.calls`, and so is the trace
  (the headers of the global propagator, ``traceparent`` by default); a malformed one
  starts a fresh stack or trace.
* ``EVENTLOG_CAPTURE_REQUEST_HEADERS`` names request headers captured as
  ``"Name: value"`` strings in ``data.request_headers``; a value is ``***`` when its
  name holds a fragment of ``EVENTLOG_SCRUB_DENYLIST``.
* The response: its status goes into ``data.status_code`` (a 5xx makes the outcome an
  error), and it carries the call id in ``X-Call-Id`` unless
  ``EVENTLOG_CALL_ID_RESPONSE_HEADER=false`` or the application set an ``X-Call-Id``
  itself (the application's answer wins); nothing else of it is changed.
* The span ends with the error when the application raises, else when the body has
  been sent or closed, whichever comes first. A body that raises while it is sent (a
  streamed response failing mid-stream) ends it with that error: the outcome is
  ``error`` with its type and message, and ``status_code`` stays the one sent. A
  response that is the server's own ``wsgi.file_wrapper`` object is handed back as it
  is (gunicorn sends only that with ``sendfile()``), the span ending when it is closed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from time import time_ns
from typing import Any

from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from eventlog_instrument import constants as c
from eventlog_instrument.calls import new_call_record, set_call_data, start_call_span
from eventlog_instrument.instrumentors.hooks import (
    call_closed,
    call_opened,
    guarded,
    make_current,
    record_error,
)
from eventlog_instrument.instrumentors.wsgi_body import body_made, made_with_span_current
from eventlog_instrument.instrumentors.wsgi_environ import (
    captured_headers,
    incoming_call_stack,
    incoming_trace_context,
)
from eventlog_instrument.settings import Settings

_DATA = c.ATTR_DATA_PREFIX

UNMATCHED_ENTRYPOINT = "unmatched"
"""``entrypoint_name`` of a request no route matched: its path is never a name."""


SpanOf = Callable[["WsgiRequest", bool], Span]
"""The framework's ``span_of(request, make_current)``: the request's span, started now
(unnamed by a route) when the framework has not started it yet."""


class WsgiRequest:
    """One request, from its arrival to the end of its body."""

    __slots__ = (
        "app", "call_id", "call_id_header", "environ", "span", "span_of", "start_time",
    )

    def __init__(
        self, environ: dict[str, Any], app: Any, span_of: SpanOf, call_id_header: bool
    ) -> None:
        self.environ = environ
        self.app = app
        """The framework's application object, for its instrumentor."""
        self.span_of = span_of
        self.call_id_header = call_id_header
        """Whether the response carries ``X-Call-Id``."""
        self.start_time = time_ns()
        self.span: Span | None = None
        self.call_id = ""


class RequestSpans:
    """The request spans of an instrumentor serving through :func:`serve`: a framework
    that answers before it matched a route (a 404, a failing middleware) gets an
    ``unmatched`` span when one is first needed."""

    def _start_span(
        self, request: WsgiRequest, entrypoint: str, route: str | None, make_current: bool
    ) -> Span:
        raise NotImplementedError

    def _span_of(self, request: WsgiRequest, make_current: bool) -> Span:
        """The request's span; an unmatched one when none was started yet."""
        if request.span is not None:
            return request.span
        return self._start_span(request, UNMATCHED_ENTRYPOINT, None, make_current)


def wsgi_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """``(environ, start_response)`` of a WSGI call, whether passed by position or name."""
    return _bind_wsgi(*args, **kwargs) if kwargs else (args[0], args[1])


def _bind_wsgi(environ: dict[str, Any], start_response: Any) -> tuple[Any, Any]:
    return environ, start_response


_current_request: ContextVar[WsgiRequest | None] = ContextVar(
    "eventlog_wsgi_request", default=None
)
current_request = _current_request.get
"""The request being served here, for the framework's other hooks."""


def serve(
    wrapped: Callable[..., Iterable[bytes]],
    environ: dict[str, Any],
    start_response: Callable[..., Any],
    request: WsgiRequest,
) -> Iterable[bytes]:
    """Call the WSGI application ``wrapped`` for ``request``, as one call."""
    call_opened()
    request_token = _current_request.set(request)
    # The framework makes the span current where it resolves the URL, which may run in
    # a copy of this context (Django adapting an async-only middleware through asgiref,
    # which copies the copy's values back here): its token cannot be detached here, so
    # this context's own token restores what was current before the request.
    context_token = context.attach(context.get_current())

    def start_response_recording(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        _record_status(request, status, headers)
        return start_response(status, headers, exc_info)

    try:
        response = wrapped(environ, start_response_recording)
    except BaseException as error:
        _end_request(request, error)
        raise
    finally:
        _current_request.reset(request_token)
        context.detach(context_token)
    return _ends_span_on_close(response, request, environ)


def start_request_span(
    request: WsgiRequest,
    tracer: trace.Tracer,
    settings: Settings,
    names: tuple[str, str, str],
    route: str | None,
    make_current_now: bool = True,
) -> Span:
    """Start the request's span, with its whole identity, back-dated to its arrival.

    ``names`` are the service, protocol and entrypoint names of the call; ``route`` is
    the matched rule, if any (the span is named ``"<METHOD> <route or entrypoint>"``).
    The span is made current for the rest of the request unless ``make_current_now``
    is false (the request is ending).
    """
    environ = request.environ
    service_name, protocol, entrypoint = names
    parent_stack = incoming_call_stack(environ)
    reserved = new_call_record(service_name, protocol, entrypoint, parent_stack)
    method = environ.get("REQUEST_METHOD", "GET")
    reserved[_DATA + "method"] = method
    headers = settings.capture_request_headers
    if headers:
        reserved[_DATA + "request_headers"] = captured_headers(
            environ, headers, settings.scrub_denylist
        )
    if route is not None:
        reserved[_DATA + "route"] = route
    parent = incoming_trace_context(environ)
    span = start_call_span(
        tracer,
        f"{method} {route or entrypoint}",
        reserved,
        context=parent,
        kind=SpanKind.SERVER,
        start_time=request.start_time,
    )
    request.span = span
    request.call_id = reserved[c.ATTR_CALL_ID]
    if make_current_now:
        make_current(span)  # until serve() restores what was current before
    return span


@guarded("record the status of a WSGI response")
def _record_status(request: WsgiRequest, status: str, headers: list[Any]) -> None:
    span = request.span if request.span is not None else request.span_of(request, True)
    code = int(status.split(" ", 1)[0])
    set_call_data(span, "status_code", code)
    if code >= 500:
        span.set_status(Status(StatusCode.ERROR, status))
    if request.call_id_header:
        for header in headers:
            name = header[0]
            # the length first: it spares a lowered copy of every other header's name
            if len(name) == _CALL_ID_HEADER_LENGTH and name.lower() == _CALL_ID_HEADER_LOWER:
                return  # the application set its own: its answer wins
        headers.append((c.CALL_ID_HTTP_HEADER, request.call_id))


_CALL_ID_HEADER_LOWER = c.CALL_ID_HTTP_HEADER.lower()
_CALL_ID_HEADER_LENGTH = len(_CALL_ID_HEADER_LOWER)


@guarded("end the span of a WSGI request")
def _end_request(request: WsgiRequest, error: BaseException | None) -> None:
    try:
        span = request.span if request.span is not None else request.span_of(request, False)
        if error is not None:
            record_error(span, error)
        span.end()
    finally:
        call_closed()


def _ends_span_on_close(
    response: Iterable[bytes], request: WsgiRequest, environ: dict[str, Any]
) -> Iterable[bytes]:
    """The response as the server gets it, ending the span when the body is done.

    The server's own ``wsgi.file_wrapper`` object is handed back itself, its ``close``
    hooked on the instance: gunicorn sends it with ``sendfile()`` only when it is its
    own type, and a server that sends it that way never iterates it, only closes it.
    """
    file_wrapper = environ.get("wsgi.file_wrapper")
    if isinstance(file_wrapper, type) and type(response) is file_wrapper:
        hooked: Iterable[bytes] | None = _close_ends_span(response, request)
        if hooked is not None:
            return hooked
    return _EndsSpanOnClose(response, request)


@guarded("hook the close of a WSGI file wrapper")
def _close_ends_span(response: Any, request: WsgiRequest) -> Any:
    original = getattr(response, "close", None)
    ended: list[bool] = []

    def close() -> None:
        try:
            if original is not None:
                original()
        finally:
            if not ended:  # a server may close twice: the call ends once
                ended.append(True)
                _end_request(request, None)

    response.close = close  # on the instance: the server's class stays untouched
    return response


class _EndsSpanOnClose:
    """The WSGI response, ending the span when the body has been sent (or the server
    closes the response, whichever comes first).

    Waiting for ``close()`` alone is not enough: werkzeug's development server can skip
    it when a client resets the connection while it drains the socket.
    """

    __slots__ = ("_ended", "_request", "_response")

    def __init__(self, response: Iterable[bytes], request: WsgiRequest) -> None:
        self._response = response
        self._request = request
        self._ended = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            span = self._request.span
            if span is not None and not body_made(self._response):
                yield from made_with_span_current(self._response, span)
            else:
                yield from self._response
        except Exception as error:  # the body failed mid-stream: the call failed
            self._end(error)
            raise
        finally:
            self._end()

    def close(self) -> None:
        try:
            close = getattr(self._response, "close", None)
            if close is not None:
                close()
        finally:
            self._end()

    def _end(self, error: BaseException | None = None) -> None:
        if not self._ended:
            self._ended = True
            _end_request(self._request, error)
