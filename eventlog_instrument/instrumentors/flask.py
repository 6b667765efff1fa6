"""Flask: every request becomes a SERVER span and an ``entrypoint_fired`` event.

Apps created before ``instrument()`` are covered too: the hooks are on Flask's class.

Envelope: ``service_name`` the configured service name (``EVENTLOG_SERVICE_NAME``), or
the app's import name when none is configured; ``entrypoint_protocol`` ``"Flask"``;
``entrypoint_name`` the endpoint (view) name; for a 405 the endpoint of the route whose
methods did not match; for a request that matched no endpoint (a 404, a redirect, a
failure before Flask matched the URL) the fixed name ``"unmatched"``. Request text never
names a call: the path is left out everywhere, since it may carry identifiers and
tokens. ``call_id`` is ``<service>.<entrypoint_name>.<uuid4>`` with both names reduced
to safe names (ASCII letters, digits, ``_``, ``.`` and ``-``, any other character
replaced by ``_``, at most 100 characters), so it is always a valid header value.
``data`` holds ``method``, ``route`` (the rule, e.g. ``/orders/<int:order_id>``; absent
when unmatched), ``status_code``, ``duration_ms``, ``outcome`` (an
error for a 5xx or an unhandled exception), ``error_type`` and ``error_message``,
``trace_id``, ``span_id``, and, when ``EVENTLOG_CAPTURE_REQUEST_HEADERS`` names some,
``request_headers`` as ``"Name: value"`` strings, scrubbed by
``EVENTLOG_SCRUB_DENYLIST``.

The span starts once Flask has matched the URL (in ``Flask.full_dispatch_request``),
back-dated to the request's arrival, so it has its whole identity from its start; it
is the current span from there to the end of the request, views, error handlers and
teardown included, but not while Flask opens the session and matches the URL before
that. A request that fails before it is matched gets its span (named by the path)
when Flask handles the error.

Propagation: an incoming ``X-Call-Stack`` header (call ids, outermost first, comma
separated) is continued, and so is the trace (a W3C ``traceparent``, or the headers of
the configured propagator); a malformed one (a call id that is not printable ASCII
without spaces, or over 256 characters) starts a fresh stack, and of a valid one the
newest ids within 2,048 bytes are kept. A malformed trace header starts a fresh trace.
The response carries the request's call id in ``X-Call-Id`` (turned off by
``EVENTLOG_CALL_ID_RESPONSE_HEADER=false``); nothing else is added to the response, and
its status, headers and body are the application's. A streamed response ends its
span when its last chunk has been sent.

``EVENTLOG_FLASK_EXCLUDED_URLS`` (regular expressions searched in the path) names
requests that get no span at all: health checks, say.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar, Token
from time import time_ns
from typing import Any, ClassVar, cast

from opentelemetry import context, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from eventlog_instrument import __version__
from eventlog_instrument import constants as c
from eventlog_instrument.calls import (
    new_call,
    parse_call_stack,
    set_call_data,
    start_call_span,
)
from eventlog_instrument.instrumentors.framework import (
    FrameworkInstrumentor,
    propagated_context,
    propagation_fields,
)
from eventlog_instrument.instrumentors.wsgi_headers import captured_headers, propagation_headers
from eventlog_instrument.lifecycle import open_calls
from eventlog_instrument.settings import DEFAULT_SERVICE_NAME

_logger = logging.getLogger(__name__)
_STACK_ENVIRON_KEY = "HTTP_" + c.CALL_STACK_HTTP_HEADER.upper().replace("-", "_")
_DATA = c.ATTR_DATA_PREFIX
UNMATCHED_ENTRYPOINT = "unmatched"
"""``entrypoint_name`` of a request that matched no endpoint: its path is never a name."""


class _Request:
    """One request between the hooks; its span starts once Flask has matched the URL."""

    __slots__ = ("call_id", "context_token", "environ", "span", "start_time")

    def __init__(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        self.start_time = time_ns()
        self.span: Span | None = None
        self.call_id = ""
        self.context_token: Token[Context] | None = None


_current_request: ContextVar[_Request | None] = ContextVar("eventlog_flask_request", default=None)


class FlaskInstrumentor(FrameworkInstrumentor):
    """Spans and ``entrypoint_fired`` events for every Flask request."""

    name = "flask"
    library = "flask"
    supported = ((2, 3), (4,))
    targets: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("flask.app", "Flask.wsgi_app", "_wsgi_app"),
        ("flask.app", "Flask.full_dispatch_request", "_full_dispatch_request"),
        ("flask.app", "Flask.handle_exception", "_handle_exception"),
    )

    def __init__(self) -> None:
        super().__init__()
        self._tracer = trace.get_tracer("eventlog_instrument.flask", __version__)

    def _wsgi_app(self, wrapped: Any, app: Any, args: Any, kwargs: Any) -> Any:
        environ, start_response = _bind_wsgi(*args, **kwargs)
        if context.get_value(_SUPPRESS_INSTRUMENTATION_KEY) or self._excluded(environ):
            return wrapped(*args, **kwargs)
        request = _Request(environ)
        open_calls.started()
        request_token = _current_request.set(request)

        def start_response_with_call_id(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            try:
                self._on_status(request, app, status, headers)
            except Exception:
                _logger.exception("eventlog_instrument could not record a Flask response")
            return start_response(status, headers, exc_info)

        try:
            response = wrapped(environ, start_response_with_call_id)
        except BaseException as error:
            self._end(request, app, error)
            raise
        finally:
            _current_request.reset(request_token)
            if request.context_token is not None:
                context.detach(request.context_token)
        return _EndsSpanOnClose(response, request, app, self)

    def _full_dispatch_request(self, wrapped: Any, app: Any, args: Any, kwargs: Any) -> Any:
        request = _current_request.get()
        if request is not None and request.span is None:
            try:
                flask_request = _flask_request()
                rule = flask_request.url_rule
                if rule is not None:
                    self._start_span(request, app, str(rule.endpoint), rule.rule)
                else:
                    self._start_span(request, app, *_unmatched(app, flask_request))
            except Exception:
                _logger.exception("eventlog_instrument could not start a Flask request span")
        return wrapped(*args, **kwargs)

    def _handle_exception(self, wrapped: Any, app: Any, args: Any, kwargs: Any) -> Any:
        request = _current_request.get()
        if request is not None and args:
            try:
                self._span_of(request, app).record_exception(args[0])
            except Exception:
                _logger.exception("eventlog_instrument could not record a Flask exception")
        return wrapped(*args, **kwargs)

    def _excluded(self, environ: dict[str, Any]) -> bool:
        assert self.settings is not None
        patterns = self.settings.flask_excluded_urls
        if not patterns:
            return False
        path = environ.get("PATH_INFO", "")
        return any(pattern.search(path) for pattern in patterns)

    def _start_span(
        self,
        request: _Request,
        app: Any,
        entrypoint: str,
        route: str | None,
        make_current: bool = True,
    ) -> Span:
        """Start the request's span (back-dated to its arrival) with its whole identity,
        and make it current for the rest of the request."""
        assert self.settings is not None
        environ = request.environ
        service_name = self.settings.service_name
        if service_name == DEFAULT_SERVICE_NAME:
            service_name = app.name
        parent_stack = parse_call_stack(environ.get(_STACK_ENVIRON_KEY))
        call = new_call(service_name, c.FLASK_PROTOCOL, entrypoint, parent_stack)
        reserved = call.attributes()
        method = environ.get("REQUEST_METHOD", "GET")
        reserved[_DATA + "method"] = method
        headers = self.settings.capture_request_headers
        if headers:
            reserved[_DATA + "request_headers"] = captured_headers(
                environ, headers, self.settings.scrub_denylist
            )
        if route is not None:
            reserved[_DATA + "route"] = route
        fields = propagation_fields()
        parent = propagated_context(propagation_headers(environ, fields), fields, None)
        span = start_call_span(
            self._tracer,
            f"{method} {route or entrypoint}",
            reserved,
            context=parent,
            kind=SpanKind.SERVER,
            start_time=request.start_time,
        )
        request.span = span
        request.call_id = call.call_id
        if make_current:
            request.context_token = context.attach(trace.set_span_in_context(span))
        return span

    def _span_of(self, request: _Request, app: Any, make_current: bool = True) -> Span:
        """The request's span; an unmatched one when Flask failed before matching."""
        if request.span is not None:
            return request.span
        return self._start_span(request, app, UNMATCHED_ENTRYPOINT, None, make_current)

    def _on_status(self, request: _Request, app: Any, status: str, headers: list[Any]) -> None:
        span = self._span_of(request, app)
        code = int(status.split(" ", 1)[0])
        set_call_data(span, "status_code", code)
        if code >= 500:
            span.set_status(Status(StatusCode.ERROR, status))
        assert self.settings is not None
        if self.settings.call_id_response_header:
            headers.append((c.CALL_ID_HTTP_HEADER, request.call_id))

    def _end(self, request: _Request, app: Any, error: BaseException | None = None) -> None:
        try:
            span = self._span_of(request, app, make_current=False)
            if error is not None:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            span.end()
        except Exception:
            _logger.exception("eventlog_instrument could not end a Flask request span")
        finally:
            open_calls.ended()


def _flask_request() -> Any:
    """The request being handled, itself rather than Flask's proxy (whose every
    attribute read is a lookup)."""
    return cast(Any, sys.modules["flask"]).request._get_current_object()


def _bind_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> tuple[Any, Any]:
    return environ, start_response


def _unmatched(app: Any, flask_request: Any) -> tuple[str, str | None]:
    """405: the endpoint and rule whose methods did not match; else the fixed
    :data:`UNMATCHED_ENTRYPOINT` and no route."""
    valid_methods = getattr(flask_request.routing_exception, "valid_methods", None)
    if valid_methods:
        try:
            adapter = app.url_map.bind_to_environ(flask_request.environ)
            rule, _ = adapter.match(method=next(iter(valid_methods)), return_rule=True)
            return str(rule.endpoint), str(rule.rule)
        except Exception:  # the URL matches nothing after all: a redirect, say
            pass
    return UNMATCHED_ENTRYPOINT, None


class _EndsSpanOnClose:
    """The WSGI response, ending the span when the body has been sent (or the server
    closes the response, whichever comes first).

    Waiting for ``close()`` alone is not enough: werkzeug's development server can skip
    it when a client resets the connection while it drains the socket.
    """

    __slots__ = ("_app", "_ended", "_instrumentor", "_request", "_response")

    def __init__(
        self,
        response: Iterable[bytes],
        request: _Request,
        app: Any,
        instrumentor: FlaskInstrumentor,
    ) -> None:
        self._response = response
        self._request = request
        self._app = app
        self._instrumentor = instrumentor
        self._ended = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._response
        finally:
            self._end()

    def close(self) -> None:
        try:
            close = getattr(self._response, "close", None)
            if close is not None:
                close()
        finally:
            self._end()

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._instrumentor._end(self._request, self._app)
