"""Django (with Django REST framework): every request becomes a SERVER span and an
``entrypoint_fired`` event, through the shared WSGI layer.

Nothing is added to the user's ``MIDDLEWARE``: the hooks are on Django's own classes, so
handlers built before ``instrument()`` (a ``wsgi.py`` that instruments after
``get_wsgi_application()``) are covered too. The Django test client does not go through
the WSGI handler, and management commands and migrations serve no request: neither makes
events; nor do the static files ``runserver`` serves (its ``StaticFilesHandler``):
development assets, not calls of the service.

Envelope: ``service_name`` the configured service name (``EVENTLOG_SERVICE_NAME``), or
the top package of the settings module (``shop`` for ``shop.settings``);
``entrypoint_protocol`` ``"Django"``; ``entrypoint_name`` the resolved URL's view name
(its URL name, with its namespaces, ``orders:detail``; the view's dotted path when the
route has no name), and for a Django REST framework viewset ``ViewSetName.action``
(``OrderViewSet.retrieve``; a ``HEAD`` is named as its ``GET`` action); a request no
route matched (a 404, a redirect to the URL with a slash, a middleware answering before
the URL was resolved) gets the fixed name ``"unmatched"``: the path is never a name.
``data`` holds ``method``, ``route`` (the URL pattern as written, e.g.
``orders/<int:pk>/``, without the language ``i18n_patterns`` puts in front; absent when
unmatched), ``status_code`` and the keys every WSGI request has (see
:mod:`eventlog_instrument.instrumentors.wsgi`): a 5xx and an unhandled exception are
errors, with the exception's type and message; a 4xx is not, whether a view returned it
or Django or DRF made it of an exception (``Http404``, ``PermissionDenied``, DRF's
``ValidationError``). A 5xx a DRF ``EXCEPTION_HANDLER`` answers keeps the exception it
answered.

The span starts once Django has resolved the URL, back-dated to the request's arrival;
it is current from there to the end of the request (the view and the middleware's
answer), so a Celery ``delay()``, a Nameko standalone RPC or outgoing HTTP in a view
continues the request's stack, also when Django runs the view in a copied context (an
async-only middleware under WSGI); what was current before the request is current again
after it. Middleware that runs before the URL is resolved runs outside it. The span ends
when the response's body has been sent or closed (streamed and file responses included:
a server's own ``wsgi.file_wrapper`` is handed back to it, so gunicorn still sends the
file with ``sendfile()``).

``EVENTLOG_DJANGO_EXCLUDED_URLS`` (regular expressions searched in the decoded path)
names requests that get no span at all."""

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
    RequestSpans,
    WsgiRequest,
    current_request,
    serve,
    start_request_span,
    wsgi_arguments,
)
from eventlog_instrument.instrumentors.wsgi_environ import excluded
from eventlog_instrument.settings import Settings


class DjangoInstrumentor(FrameworkInstrumentor, RequestSpans):
    """Spans and ``entrypoint_fired`` events for every Django request."""

    name = "django"
    library = "django"
    supported = ((4, 2), (6,))
    targets: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("django.core.handlers.wsgi", "WSGIHandler.__call__", "_wsgi_call"),
        ("django.core.handlers.base", "BaseHandler.resolve_request", "_resolve_request"),
        ("django.core.handlers.exception", "response_for_exception", "_response_for_exception"),
        ("rest_framework.views", "APIView.handle_exception", "_drf_handle_exception"),
    )

    def __init__(self) -> None:
        super().__init__()
        self._tracer = trace.get_tracer("eventlog_instrument.django", __version__)
        self._service_name: str | None = None

    def _wsgi_call(self, wrapped: Any, handler: Any, args: Any, kwargs: Any) -> Any:
        environ, start_response = wsgi_arguments(args, kwargs)
        settings = self.settings
        if (
            settings is None
            or suppressed()
            or current_request() is not None  # a handler serving through another one
            # runserver's static files (StaticFilesHandler): development assets, not calls
            or getattr(handler, "handles_files", False)
            or (settings.django_excluded_urls and excluded(environ, settings.django_excluded_urls))
        ):
            return wrapped(*args, **kwargs)
        request = WsgiRequest(environ, handler, self._span_of, settings.call_id_response_header)
        return serve(wrapped, environ, start_response, request)

    def _resolve_request(self, wrapped: Any, handler: Any, args: Any, kwargs: Any) -> Any:
        request = current_request()
        if request is None or request.span is not None:
            return wrapped(*args, **kwargs)
        try:
            match = wrapped(*args, **kwargs)
        except BaseException:  # Resolver404, mostly: no route matched
            self._start_unmatched_span(request)
            raise
        self._start_matched_span(request, match)
        return match

    def _drf_handle_exception(self, wrapped: Any, view: Any, args: Any, kwargs: Any) -> Any:
        response = wrapped(*args, **kwargs)  # re-raised when DRF leaves it to Django
        request = current_request()
        if request is not None and args:
            self._record_exception(request, (None, args[0]), response)
        return response

    def _response_for_exception(self, wrapped: Any, module: Any, args: Any, kwargs: Any) -> Any:
        response = wrapped(*args, **kwargs)
        request = current_request()
        if request is not None:
            self._record_exception(request, args, response)
        return response

    @guarded("start a Django request span")
    def _start_matched_span(self, request: WsgiRequest, match: Any) -> None:
        method = request.environ.get("REQUEST_METHOD", "GET")
        self._start_span(request, _entrypoint_name(match, method), _route(match), True)

    @guarded("start a Django request span")
    def _start_unmatched_span(self, request: WsgiRequest) -> None:
        self._span_of(request, True)

    @guarded("record a Django exception")
    def _record_exception(self, request: WsgiRequest, args: Any, response: Any) -> None:
        # Django answers a 4xx for Http404, PermissionDenied and the like: not errors
        if len(args) == 2 and response.status_code >= 500:
            record_exception(self._span_of(request, True), args[1])

    def _start_span(
        self, request: WsgiRequest, entrypoint: str, route: str | None, make_current: bool
    ) -> Span:
        service_name = self.configured_service_name or self._settings_package()
        return start_request_span(
            request, self._tracer, self._request_settings(),
            (service_name, c.DJANGO_PROTOCOL, entrypoint), route, make_current,
        )

    def _settings_package(self) -> str:
        """The top package of Django's settings module, read once: it names the service."""
        if self._service_name is None:
            django_settings = sys.modules["django.conf"].settings
            module = getattr(django_settings, "SETTINGS_MODULE", None)
            self._service_name = (
                module.split(".", 1)[0] if module else self._request_settings().service_name
            )
        return self._service_name

    def _request_settings(self) -> Settings:
        """The settings the hooks serve with; every caller is guarded."""
        if self.settings is None:  # instrument() sets them before any hook is in place
            raise LookupError("the Django instrumentor has not been instrumented")
        return self.settings


def _entrypoint_name(match: Any, method: str) -> str:
    """``ViewSetName.action`` for a DRF viewset's action; else the URL's view name."""
    view = match.func
    actions = getattr(view, "actions", None)
    viewset = getattr(view, "cls", None)
    if isinstance(actions, dict) and viewset is not None:
        method = method.lower()
        # DRF adds "head" to a viewset's actions on its first dispatch: a HEAD is its GET
        action = actions.get(method) or (actions.get("get") if method == "head" else None)
        if action is not None:
            return f"{viewset.__name__}.{action}"
    return str(match.view_name)


def _route(match: Any) -> str:
    """The matched URL pattern as written: without the language ``i18n_patterns`` puts
    in front of it, so one pattern is one route whatever the language."""
    route = str(match.route)
    tried = getattr(match, "tried", None)
    if tried:
        outermost = getattr(tried[-1][0], "pattern", None)
        if type(outermost).__name__ == "LocalePrefixPattern":
            route = route.removeprefix(str(outermost))
    return route
