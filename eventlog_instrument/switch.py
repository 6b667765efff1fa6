"""``EventLogInstrumentor``: sets up the tracer provider and the event exporters.

    from eventlog_instrument import EventLogInstrumentor
    EventLogInstrumentor().instrument()          # exporters and options from EVENTLOG_*
    EventLogInstrumentor().instrument(exporters="amqp", amqp_uri="amqp://...")

Options are the settings table's names (``eventlog_instrument.settings``); an option
wins over its environment variable and is checked like it, whatever its type.
``exporters`` is a comma list of names, or a list of names and exporter objects (an
:class:`~eventlog_instrument.exporters.memory.InMemoryEventExporter` in a test, say).
When the application already set an SDK ``TracerProvider``, the exporters are added
to it; otherwise one is created with the configured service name. Each
exporter gets its own :class:`~eventlog_instrument.processor.EventLogSpanProcessor`,
so a slow broker never holds up another; they hang off one fan-out span processor
that is added to a provider once, so ``uninstrument()`` takes out all it put in (the SDK
cannot remove a span processor). With no exporter, on a provider that has no other span
processor and samples with the package's sampler, calls are not recorded: nothing would
read their spans (see :mod:`eventlog_instrument.unread`). Every instrumentor registered
under the ``eventlog_instrument.instrumentors`` entry-point group is enabled unless
``EVENTLOG_DISABLED_INSTRUMENTATIONS`` names it (``*`` names all) or its library is
missing or of an unsupported version (one INFO line says which and why).
Instrumenting twice does nothing the second time (a warning names the options it
ignored, when they differ from the first call's); ``uninstrument()`` removes every
wrapper, flushes and stops what ``instrument()`` started. At exit, and in
``uninstrument()``, all processors share one ``EVENTLOG_SHUTDOWN_TIMEOUT``.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter

from eventlog_instrument import log_capture, runtime, unread
from eventlog_instrument.calls import link_to_call
from eventlog_instrument.exporters.registry import create_exporters
from eventlog_instrument.instrumentors.framework import FrameworkInstrumentor
from eventlog_instrument.instrumentors.registry import enabled_instrumentors
from eventlog_instrument.lifecycle import open_calls, shutdown_together
from eventlog_instrument.processor import EventLogSpanProcessor
from eventlog_instrument.sampling import RECORD_EVERY_CALL
from eventlog_instrument.settings import Settings, SettingsError, load_settings

_logger = logging.getLogger(__name__)
CALLS_GRACE_SECONDS = 1.0
"""At exit, longest wait for calls still ending before the flush."""


class EventLogInstrumentor:
    """One switch for the whole package; every instance shares the same state."""

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _processors: ClassVar[list[EventLogSpanProcessor]] = []
    _instrumentors: ClassVar[dict[str, FrameworkInstrumentor]] = {}
    _settings: ClassVar[Settings | None] = None
    _options: ClassVar[dict[str, Any]] = {}
    _instrumented: ClassVar[bool] = False
    _atexit_registered: ClassVar[bool] = False

    @property
    def is_instrumented(self) -> bool:
        return EventLogInstrumentor._instrumented

    @property
    def settings(self) -> Settings | None:
        """The settings ``instrument()`` ran with, or ``None`` before it ran."""
        return EventLogInstrumentor._settings

    @property
    def instrumentors(self) -> list[FrameworkInstrumentor]:
        """The framework instrumentors that are active."""
        return [i for i in EventLogInstrumentor._instrumentors.values() if i.is_instrumented]

    @property
    def processors(self) -> list[EventLogSpanProcessor]:
        """One processor per active exporter, with its ``exported`` and ``dropped`` counts."""
        return list(EventLogInstrumentor._processors)

    def instrument(self, **options: Any) -> None:
        """Start exporting events. Raises ``SettingsError`` for a bad setting."""
        cls = EventLogInstrumentor
        with cls._lock:
            if cls._instrumented:
                _warn_ignored(options, cls._options)
                return
            cls._options = dict(options)
            exporter_objects: Sequence[SpanExporter] = ()
            if "exporters" in options:
                options["exporters"], exporter_objects = _names_and_objects(options["exporters"])
            settings = load_settings(**options)
            if settings.sdk_disabled:
                _logger.info("eventlog_instrument is off: OTEL_SDK_DISABLED is true")
                return
            exporters = [*exporter_objects, *create_exporters(settings)]
            processors = [
                EventLogSpanProcessor.from_settings(exporter, settings) for exporter in exporters
            ]
            cls._processors = processors
            provider = _sdk_tracer_provider(settings)
            fan_out = _fan_out_of(provider)
            fan_out.processors = tuple(processors)
            fan_out.linking = True
            if processors or provider.sampler is not RECORD_EVERY_CALL:
                unread.forget()
            else:
                unread.watch(provider, fan_out)
            for instrumentor in enabled_instrumentors(settings):
                active = cls._instrumentors.setdefault(instrumentor.name, instrumentor)
                active.instrument(settings)
            log_capture.install(settings)
            cls._settings = settings
            cls._instrumented = True
            runtime.started(settings, self.uninstrument)
            if not cls._atexit_registered:
                atexit.register(cls.shutdown_at_exit)
                cls._atexit_registered = True

    def uninstrument(self) -> None:
        """Flush pending events (bounded by ``shutdown_timeout``) and stop exporting."""
        cls = EventLogInstrumentor
        with cls._lock:
            for instrumentor in cls._instrumentors.values():
                instrumentor.uninstrument()
            log_capture.uninstall()
            unread.forget()
            for fan_out in _fan_outs:
                fan_out.processors = ()
                fan_out.linking = False
            cls._shutdown_processors()
            cls._processors = []
            cls._instrumented = False
            runtime.stopped()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Deliver every event ended so far; ``False`` if one exporter ran out of time."""
        return all(processor.force_flush(timeout_millis) for processor in self.processors)

    @staticmethod
    def shutdown_at_exit() -> None:
        """Give calls still ending a moment (a server closing a response it has already
        sent), then flush and stop every processor within ``shutdown_timeout``."""
        open_calls.wait_until_none(CALLS_GRACE_SECONDS)
        EventLogInstrumentor._shutdown_processors()

    @staticmethod
    def _shutdown_processors() -> None:
        shutdown_together(EventLogInstrumentor._processors)


def _names_and_objects(given: Any) -> tuple[str, list[SpanExporter]]:
    """The ``exporters`` option: a text of names, or a list of names and exporter objects."""
    if isinstance(given, str):
        return given, []
    items = list(given) if isinstance(given, (list, tuple)) else [given]
    wrong = [item for item in items if not isinstance(item, (str, SpanExporter))]
    if wrong:
        raise SettingsError(
            f"exporters: an item of type {type(wrong[0]).__name__} is not accepted: "
            "expected a comma list "
            "of exporter names, or a list of names and SpanExporter objects"
        )
    names = [item for item in items if isinstance(item, str)]
    return ",".join(names) or "none", [item for item in items if isinstance(item, SpanExporter)]


def _warn_ignored(options: dict[str, Any], first: dict[str, Any]) -> None:
    differing = sorted(name for name in {*options, *first} if options.get(name) != first.get(name))
    if options and differing:
        _logger.warning(
            "eventlog_instrument is already instrumented: instrument() ignored the options "
            "%s, which differ from the first call's; uninstrument() first to change them",
            ", ".join(differing),
        )


class _FanOut(SpanProcessor):
    """The one span processor this package adds to a provider: it hands every span to the
    current processors, none after ``uninstrument()``, and links every span started
    inside a call to that call while instrumented, with no exporter too: the call stack
    of a request made inside the application's own span is found through the link."""

    def __init__(self) -> None:
        self.processors: tuple[EventLogSpanProcessor, ...] = ()
        self.linking = False

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self.linking:
            link_to_call(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self.processors:
            processor.on_end(span)

    def shutdown(self) -> None:
        shutdown_together(self.processors)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(processor.force_flush(timeout_millis) for processor in self.processors)


_fan_outs: list[_FanOut] = []
"""One per provider instrumented, in a list: an SDK provider is not hashable by contract."""


def _fan_out_of(provider: TracerProvider) -> _FanOut:
    fan_out: _FanOut | None = getattr(provider, "_eventlog_fan_out", None)
    if fan_out is None:
        fan_out = _FanOut()
        provider.add_span_processor(fan_out)
        provider._eventlog_fan_out = fan_out  # type: ignore[attr-defined]
        _fan_outs.append(fan_out)
    return fan_out


def _sdk_tracer_provider(settings: Settings) -> TracerProvider:
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        shutdown_on_exit=False,
        sampler=RECORD_EVERY_CALL,
    )
    trace.set_tracer_provider(provider)
    return provider
