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

import sys
from typing import Any, ClassVar

from opentelemetry import trace
from opentelemetry.trace import Span

from eventlog_instrument import __version__
from eventlog_instrument import constants as c
from eventlog_instrument.instrumentors.framework import FrameworkInstrumentor
from eventlog_instrument.instrumentors.hooks import guarded, record_exception, suppressed
from eventlog_instrument.instrumentors.wsgi import (
    UNMATCHED_ENTRYPOINT,
    RequestSpans,
    WsgiRequest,
    current_request,
    serve,
    start_request_span,
    wsgi_arguments,
)
from eventlog_instrument.instrumentors.wsgi_environ import excluded


class FlaskInstrumentor(FrameworkInstrumentor, RequestSpans):
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
        environ, start_response = wsgi_arguments(args, kwargs)
        settings = self.settings
        assert settings is not None
        patterns = settings.flask_excluded_urls
        if suppressed() or (patterns and excluded(environ, patterns)):
            return wrapped(*args, **kwargs)
        request = WsgiRequest(environ, app, self._span_of, settings.call_id_response_header)
        return serve(wrapped, environ, start_response, request)

    def _full_dispatch_request(self, wrapped: Any, app: Any, args: Any, kwargs: Any) -> Any:
        request = current_request()
        if request is not None and request.span is None:
            self._start_matched_span(request)
        return wrapped(*args, **kwargs)

    def _handle_exception(self, wrapped: Any, app: Any, args: Any, kwargs: Any) -> Any:
        request = current_request()
        if request is not None and args:
            self._record_exception(request, args[0])
        return wrapped(*args, **kwargs)

    @guarded("start a Flask request span")
    def _start_matched_span(self, request: WsgiRequest) -> None:
        # Flask's request itself, not its proxy (whose every attribute read is a lookup)
        flask: Any = sys.modules["flask"]
        flask_request = flask.request._get_current_object()
        rule = flask_request.url_rule
        if rule is not None:
            self._start_span(request, str(rule.endpoint), rule.rule, True)
        else:
            self._start_span(request, *_unmatched(request.app, flask_request), True)

    @guarded("record a Flask exception")
    def _record_exception(self, request: WsgiRequest, error: BaseException) -> None:
        record_exception(self._span_of(request, True), error)

    def _start_span(
        self, request: WsgiRequest, entrypoint: str, route: str | None, make_current: bool
    ) -> Span:
        assert self.settings is not None
        service_name = self.configured_service_name or request.app.name
        return start_request_span(
            request, self._tracer, self.settings,
            (service_name, c.FLASK_PROTOCOL, entrypoint), route, make_current,
        )


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
