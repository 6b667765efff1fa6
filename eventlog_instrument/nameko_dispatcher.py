"""A drop-in ``EventLogDispatcher`` for users of nameko-eventlog-dispatcher.

Change one import line and nothing else::

    from eventlog_instrument import EventLogDispatcher   # was: from nameko_eventlog_dispatcher

    class FooService:
        name = "foo"
        eventlog_dispatcher = EventLogDispatcher()

        @rpc
        def foo_method(self):
            self.eventlog_dispatcher("foo_event_type", {"value": 1}, metadata={"k": "v"})

The constructor, the call ``(event_type, event_data=None, metadata=None)``, the config
section ``EVENTLOG_DISPATCHER`` (``auto_capture``, default false;
``entrypoints_to_exclude``; ``event_type``, default ``log_event``) and the class
attribute ``ENTRYPOINT_TYPES_TO_LOG`` (``Rpc`` and ``HttpRequestHandler``) are the old
library's, and so are the envelopes: the same 8 keys plus metadata, the same values,
second-precision ``+00:00`` timestamps taken when the event is dispatched, and
``entrypoint_fired`` with ``data`` ``{}`` when a captured entrypoint fires.

Events go through the exporters of ``EventLogInstrumentor`` when it is instrumented;
otherwise the dispatcher publishes with the ``amqp`` exporter to the service's own
``AMQP_URI``, on the ``<service>.events`` exchange with the configured event type, as
the old library did. Publishing happens on an export thread: a broker failure is logged
and retried, and never fails the entrypoint; a failure to dispatch ``entrypoint_fired``
is logged as one masked warning line per 10 s, like every failure of the package's
hooks. Unlike the old library,
``event_data`` and ``metadata`` must be dicts of JSON data (a ``TypeError`` or
``ValueError`` at the call says what is wrong), and the old dispatcher's publisher
options (``exchange``, ``declare``, ``**options``) are accepted but not used.
"""

from __future__ import annotations

import logging
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.web.handlers import HttpRequestHandler
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from eventlog_instrument import constants as c
from eventlog_instrument import runtime
from eventlog_instrument.calls import CallIdentity
from eventlog_instrument.events import record_event
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.instrumentors.hooks import report_failure
from eventlog_instrument.nameko_context import (
    DISPATCHER_CONFIG_KEY,
    nameko_config,
    worker_call,
)
from eventlog_instrument.processor import EventLogSpanProcessor
from eventlog_instrument.sampling import RECORD_EVERY_CALL
from eventlog_instrument.settings import load_settings

_logger = logging.getLogger(__name__)


class EventLogDispatcher(DependencyProvider):  # type: ignore[misc]
    """Dispatches log events, and ``entrypoint_fired`` ones when ``auto_capture`` is on."""

    ENTRYPOINT_FIRED = c.ENTRYPOINT_FIRED
    """Event type of the events dispatched when entrypoints fire."""

    EVENT_TYPE = c.DEFAULT_EVENT_TYPE
    """Nameko event type (routing key) that carries the log events."""

    ENTRYPOINT_TYPES_TO_LOG: tuple[type, ...] = (Rpc, HttpRequestHandler)
    """Entrypoint types whose firing is captured."""

    is_eventlog_drop_in_dispatcher = True
    """Tells the Nameko instrumentor that this service keeps the drop-in's capture rules."""

    def __init__(self, exchange: Any = None, declare: Any = None, **options: Any) -> None:
        if exchange is not None or declare is not None or options:
            _logger.warning(
                "EventLogDispatcher: publisher options are not used (events go through "
                "eventlog_instrument's exporters)"
            )
        self._own_provider: TracerProvider | None = None
        self._tracer: trace.Tracer | None = None

    def setup(self) -> None:
        config = nameko_config(self.container).get(DISPATCHER_CONFIG_KEY, {}) or {}
        self.auto_capture = config.get("auto_capture") or False
        self.entrypoints_to_exclude = config.get("entrypoints_to_exclude") or []
        self.event_type = config.get("event_type") or self.EVENT_TYPE
        if runtime.is_instrumented():
            self._tracer = trace.get_tracer(__name__)
            return
        settings = load_settings(
            amqp_uri=nameko_config(self.container)["AMQP_URI"],
            event_type=self.event_type,
            service_name=self.container.service_name,
        )
        provider = TracerProvider(
            resource=Resource.create({"service.name": self.container.service_name}),
            shutdown_on_exit=True,
            sampler=RECORD_EVERY_CALL,
        )
        provider.add_span_processor(EventLogSpanProcessor(AmqpEventExporter(settings), settings))
        self._own_provider = provider
        self._tracer = provider.get_tracer(__name__)

    def stop(self) -> None:
        if self._own_provider is not None:
            self._own_provider.shutdown()
            self._own_provider = None

    def kill(self) -> None:
        self.stop()

    def worker_setup(self, worker_ctx: Any) -> None:
        if not self._should_dispatch(worker_ctx.entrypoint):
            return
        try:
            self.get_dependency(worker_ctx)(event_type=self.ENTRYPOINT_FIRED)
        except Exception as error:
            report_failure("dispatch the drop-in dispatcher's entrypoint_fired event", error)

    def get_dependency(self, worker_ctx: Any) -> Any:
        def identity() -> CallIdentity:
            return worker_call(worker_ctx, self.event_type)

        def dispatch(
            event_type: str,
            event_data: dict[str, Any] | None = None,
            metadata: dict[str, Any] | None = None,
        ) -> None:
            record_event(identity, event_type, event_data, metadata, self._tracer)

        return dispatch

    def _should_dispatch(self, entrypoint: Any) -> bool:
        method_name = entrypoint.method_name
        return bool(
            self.auto_capture
            and isinstance(entrypoint, self.ENTRYPOINT_TYPES_TO_LOG)
            and method_name not in self.entrypoints_to_exclude
        )
