"""Nameko: every worker (``@rpc``, ``@http``, ``@event_handler``, ``@timer``,
``@consume`` and any custom entrypoint) becomes a SERVER span and an
``entrypoint_fired`` event, with no change to the service.

Envelope: ``service_name`` the service, ``entrypoint_protocol`` the entrypoint's class
name (``Rpc``, ``HttpRequestHandler``, ``EventHandler``, ``Timer``, ``Consumer``, ...),
``entrypoint_name`` the method, ``call_id`` and ``call_stack`` Nameko's own
(``worker_ctx.call_id`` and ``call_id_stack``, parent calls included), under the
package's bounding rules (:mod:`eventlog_instrument.calls`): an incoming stack that is
not a list of valid call ids starts a fresh one, a valid one is bounded in bytes, and
a call id unfit for a header is reduced to a safe one. Nameko's own context (what its
RPC calls and events pass on) is left as Nameko made it. ``data`` holds
``duration_ms`` and ``outcome``; on an error, ``error_type`` and ``error_message``. An
exception in the entrypoint's ``expected_exceptions`` is not an error: the outcome is
``ok`` and ``data`` says ``expected_error_type`` and ``expected_error_message``.

An ``@http`` entrypoint (``HttpRequestHandler`` or a subclass) is served like a Flask
request (:mod:`eventlog_instrument.instrumentors.nameko_http`): it continues an incoming
``X-Call-Stack`` and ``traceparent``, answers with its call id in ``X-Call-Id`` (off with
``EVENTLOG_CALL_ID_RESPONSE_HEADER=false``), and its ``data`` adds ``method``, ``route``
and ``status_code``; a 5xx answer makes it an error, a 4xx does not.

What is captured:

* ``EVENTLOG_NAMEKO_ENTRYPOINT_TYPES``: entrypoint class names to capture (all when
  empty), matched against the entrypoint's class and its bases, as ``isinstance``
  would: naming ``HttpRequestHandler`` captures a gateway's own
  ``HttpEntrypoint(HttpRequestHandler)`` too; ``EVENTLOG_ENTRYPOINTS_TO_EXCLUDE``:
  method names never captured;
* the service's Nameko config section ``EVENTLOG_DISPATCHER`` (nameko-eventlog-
  dispatcher's): ``auto_capture: false`` turns capture off for that service,
  ``entrypoints_to_exclude`` adds method names, ``event_type`` is the AMQP routing key
  of that service's events;
* a service that declares the drop-in ``EventLogDispatcher`` keeps that dispatcher's
  own capture rules, so it never gets two ``entrypoint_fired`` events per call.

A call that is not captured still has its span, so manual events inside it carry its
identity and the trace continues through it.

Propagation: the span's W3C ``traceparent`` is put in the worker's Nameko context data,
so RPC calls and events dispatched by the worker carry it (as the
``nameko.traceparent`` header) beside Nameko's ``call_id_stack``, and the callee's span
is a child of the caller's. Standalone clients (``ClusterRpcProxy``/``ServiceRpcProxy``
in Nameko 2, ``ClusterRpcClient``/``ServiceRpcClient`` in Nameko 3) created inside an
instrumented Flask request or Celery task get that call's stack and trace context as
their context data, so the callee's stack extends the caller's (with the client's own
call id in between, as Nameko always adds it). The standalone event dispatcher
(``nameko.standalone.events.event_dispatcher``) sends the calling call's stack and trace
context as ``nameko.*`` headers (:mod:`eventlog_instrument.instrumentors.nameko_events`),
so the handler's stack is the caller's plus its own. Greenthreads spawned while a span is
current (by ``eventlet.spawn`` or ``spawn_n``, a ``GreenPool`` or the container) start
with the spawner's context,
where eventlet would give them an empty one, and so do those spawned while an HTTP
request is served (its worker is one).
"""

from __future__ import annotations

import contextvars
import inspect
import weakref
from typing import Any, ClassVar

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind

from eventlog_instrument import __version__
from eventlog_instrument import constants as c
from eventlog_instrument.calls import CallIdentity, current_call, start_call_span
from eventlog_instrument.fastpath import propagation_fields
from eventlog_instrument.instrumentors.framework import FrameworkInstrumentor
from eventlog_instrument.instrumentors.hooks import (
    NEW_TRACE,
    begin_call,
    call_closed,
    end_call,
    expected_exceptions,
    guarded,
    inject_call_context,
    propagated_context,
    record_exception,
    record_outcome,
    suppressed,
)
from eventlog_instrument.instrumentors.nameko_events import (
    standalone_event_exchange,
    with_call_headers,
)
from eventlog_instrument.instrumentors.nameko_http import (
    continued_context_data,
    link,
    request_data,
    request_of_worker,
    serve_request,
)
from eventlog_instrument.instrumentors.wsgi import WsgiRequest, current_request
from eventlog_instrument.nameko_context import (
    CALL_ID_STACK_CONTEXT_KEY,
    declares_drop_in,
    dispatcher_config,
    worker_call,
)


class NamekoInstrumentor(FrameworkInstrumentor):
    """Spans and ``entrypoint_fired`` events for every Nameko worker."""

    name = "nameko"
    library = "nameko"
    supported = ((2, 14), (4,))
    targets: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("nameko.containers", "ServiceContainer._run_worker", "_run_worker"),
        ("nameko.containers", "ServiceContainer._worker_result", "_worker_result"),
        ("eventlet.greenthread", "GreenThread.__init__", "_greenthread_init"),
        ("eventlet.greenthread", "_spawn_n", "_spawn_n"),
        ("nameko.standalone.rpc", "StandaloneProxyBase.__init__", "_standalone_client_init"),
        ("nameko.standalone.rpc", "ClusterRpcClient.__init__", "_standalone_client_init"),
        ("nameko.web.server", "WsgiApp.__call__", "_wsgi_app"),
        ("nameko.containers", "ServiceContainer.spawn_worker", "_spawn_worker"),
        ("nameko.standalone.events", "get_event_exchange", "_event_exchange"),
        ("nameko.amqp.publish", "Publisher.publish", "_publish"),
    )

    def __init__(self) -> None:
        super().__init__()
        self._tracer = trace.get_tracer("eventlog_instrument.nameko", __version__)
        self._spans: weakref.WeakKeyDictionary[Any, Span] = weakref.WeakKeyDictionary()
        self._captured: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
        """Per entrypoint instance: whether its calls are captured (see :meth:`_captures`)."""

    def instrument(self, settings: Any) -> None:
        self._captured = weakref.WeakKeyDictionary()  # the settings may have changed
        super().instrument(settings)

    def _run_worker(self, wrapped: Any, container: Any, args: Any, kwargs: Any) -> Any:
        if suppressed():
            return wrapped(*args, **kwargs)
        worker_ctx = args[0] if args else kwargs["worker_ctx"]
        started = self._begin_worker(container, worker_ctx)
        if started is None:
            return wrapped(*args, **kwargs)
        try:
            return wrapped(*args, **kwargs)
        finally:
            self._end_worker(*started)

    def _worker_result(self, wrapped: Any, container: Any, args: Any, kwargs: Any) -> Any:
        self._record_result(args)
        return wrapped(*args, **kwargs)

    def _wsgi_app(self, wrapped: Any, app: Any, args: Any, kwargs: Any) -> Any:
        if suppressed() or kwargs or len(args) != 2:
            return wrapped(*args, **kwargs)
        assert self.settings is not None
        environ, start_response = args
        call_id_header = self.settings.call_id_response_header
        return serve_request(wrapped, app, environ, start_response, call_id_header)

    def _spawn_worker(self, wrapped: Any, container: Any, args: Any, kwargs: Any) -> Any:
        request = current_request()
        if request is not None and args and request_of_worker(args[0]) is request:
            with_stack = self._with_request_context(request, args, kwargs)
            if with_stack is not None:
                args, kwargs = with_stack
        return wrapped(*args, **kwargs)

    def _event_exchange(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        return standalone_event_exchange(wrapped, instance, args, kwargs)

    def _publish(self, wrapped: Any, publisher: Any, args: Any, kwargs: Any) -> Any:
        return wrapped(*args, **with_call_headers(publisher, kwargs))

    def _greenthread_init(self, wrapped: Any, greenthread: Any, args: Any, kwargs: Any) -> Any:
        result = wrapped(*args, **kwargs)
        self._pass_context(greenthread)
        return result

    def _spawn_n(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        result = wrapped(*args, **kwargs)  # (timer, greenlet): spawn_n's bare greenlet
        self._pass_context(result[1])
        return result

    def _standalone_client_init(self, wrapped: Any, client: Any, args: Any, kwargs: Any) -> Any:
        call = current_call()
        if call is not None and not suppressed():
            with_stack = self._with_call_stack(wrapped, call, args, kwargs)
            if with_stack is not None:
                args, kwargs = with_stack
        return wrapped(*args, **kwargs)

    @guarded("start the span of a Nameko worker")
    def _begin_worker(self, container: Any, worker_ctx: Any) -> tuple[Span, Any]:
        span = self._start_span(container, worker_ctx)
        return span, begin_call(span)

    @guarded("end the span of a Nameko worker")
    def _end_worker(self, span: Span, token: Any) -> None:
        if _serves_request(span):
            # the request ends the span once its answer is sent
            try:
                context.detach(token)
            finally:
                call_closed()
        else:
            end_call(span, token)

    @guarded("record a Nameko worker's outcome")
    def _record_result(self, args: Any) -> None:
        worker_ctx, _result, exc_info = args
        span = self._spans.get(worker_ctx)
        if span is not None and exc_info:
            expected = expected_exceptions(worker_ctx.entrypoint.expected_exceptions)
            if _serves_request(span) and not isinstance(exc_info[1], expected):
                # the answer's status decides the outcome, as for a Flask request
                record_exception(span, exc_info[1])
            else:
                record_outcome(span, exc_info[1], expected)

    @guarded("pass the context to a greenthread")
    def _pass_context(self, greenthread: Any) -> None:
        if (
            trace.get_current_span().get_span_context().is_valid
            or current_request() is not None
        ):
            greenthread.gr_context = contextvars.copy_context()

    @guarded("pass an HTTP request's call stack to its Nameko worker")
    def _with_request_context(
        self, request: WsgiRequest, args: Any, kwargs: Any
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if "context_data" in kwargs or len(args) < 4:
            context_data = continued_context_data(request, kwargs.get("context_data"))
            return args, {**kwargs, "context_data": context_data}
        context_data = continued_context_data(request, args[3])
        return (*args[:3], context_data, *args[4:]), kwargs

    @guarded("pass the call stack to an RPC client")
    def _with_call_stack(
        self, wrapped: Any, call: CallIdentity, args: Any, kwargs: Any
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The client's arguments with ``call``'s stack and the trace context in its
        ``context_data``."""
        bound = inspect.signature(wrapped).bind(*args, **kwargs)
        context_data = dict(bound.arguments.get("context_data") or {})
        inject_call_context(context_data, CALL_ID_STACK_CONTEXT_KEY, call)
        bound.arguments["context_data"] = context_data
        return bound.args, bound.kwargs

    def _start_span(self, container: Any, worker_ctx: Any) -> Span:
        entrypoint = worker_ctx.entrypoint
        config = dispatcher_config(container)
        call = worker_call(worker_ctx, config.get("event_type") or None)
        reserved = call.attributes()
        if not self._captures(container, entrypoint, config):
            reserved[c.ATTR_AUTO_CAPTURE] = False
        request = request_of_worker(entrypoint)
        if request is not None:
            assert self.settings is not None
            request_data(request, entrypoint, self.settings, reserved)
        fields = propagation_fields()
        span = start_call_span(
            self._tracer,
            f"{call.service_name}.{call.entrypoint_name}",
            reserved,
            context=propagated_context(worker_ctx.data, fields, NEW_TRACE),
            kind=SpanKind.SERVER,
        )
        propagate.inject(worker_ctx.data, context=trace.set_span_in_context(span))
        self._spans[worker_ctx] = span
        if request is not None:
            link(request, span, call)
        return span

    def _captures(self, container: Any, entrypoint: Any, config: dict[str, Any]) -> bool:
        """Whether the entrypoint's calls become events; fixed for a running container."""
        known = self._captured.get(entrypoint)
        if known is None:
            known = self._captured[entrypoint] = self._decide_capture(container, entrypoint, config)
        return known

    def _decide_capture(self, container: Any, entrypoint: Any, config: dict[str, Any]) -> bool:
        settings = self.settings
        assert settings is not None
        if "auto_capture" in config and not config["auto_capture"]:
            return False
        if declares_drop_in(container):
            return False
        types = settings.nameko_entrypoint_types
        if types and not any(cls.__name__ in types for cls in type(entrypoint).__mro__):
            return False
        excluded = (*settings.entrypoints_to_exclude, *(config.get("entrypoints_to_exclude") or ()))
        return entrypoint.method_name not in excluded


def _serves_request(span: Span) -> bool:
    """Whether ``span`` is the span of the HTTP request being served here."""
    request = current_request()
    return request is not None and request.span is span
