"""Calls that nothing reads: with no exporter and no other span processor, a call's span
is not recorded.

With ``EVENTLOG_EXPORTERS=none`` on a tracer provider whose only span processor is this
package's (the one it made, say), no event is built and nothing receives a call's span,
so recording one is work for nothing: the SDK span was about half of what the hooks
cost a Celery task (197,000 instructions with it, 108,000 without). Such a call gets an
:class:`UnrecordedCallSpan` instead: a non-recording span with the ids and trace flags
the SDK would have given it, so the call stack and the W3C trace context still travel to
every call it makes, and a span the application starts inside it is still its child.
This is what OpenTelemetry's SDK does for a span its sampler drops, except that the
caller's sampling decision is kept: a service exporting nothing must not change what the
services it calls sample.

The switch :func:`watch`\\ es the provider when it instruments, if that provider samples
with :data:`~eventlog_instrument.sampling.RECORD_EVERY_CALL` (every provider the package
makes does): the flags given here are the ones that sampler would give, and another
sampler's are not this module's to guess. A span processor added to that provider later
(the application's own OTLP pipeline, say) ends the watch at the next call, whose span
is recorded again, and so is every later one; the spans of a call already running when
it was added (the application's own, a nested call) are recorded too, with that call's
unrecorded span as their parent. A span started through a tracer of another provider is
always recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context, get_current
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types

_RANDOM_TRACE_ID = getattr(TraceFlags, "RANDOM_TRACE_ID", 0)
"""W3C level 2's random trace id flag, on SDKs that set it (1.39 and later)."""
_KEPT_FLAGS = TraceFlags.SAMPLED | _RANDOM_TRACE_ID
"""The flags the SDK keeps of a parent's: any other bit a caller sent is not passed on."""

ContextMaker = Callable[[Context], SpanContext]
"""Makes an unrecorded span's context under its parent context."""


class UnrecordedCallSpan(Span):
    """A call's span when nothing reads spans: ids and flags, no recording.

    Its ids are made when first asked for (by a call it makes, a span started inside
    it, a log line): a call that asks for none costs no ids. It knows when it ended, as
    an SDK span does, so that a thread outliving its call is not part of it any more
    (see :func:`eventlog_instrument.calls.call_span_of`). Not a ``NonRecordingSpan``:
    OpenTelemetry's no-op tracer hands out the current span itself when it is one, and
    a block of a library silenced that way would end the call. So that code reading the
    current span as the SDK's finds what it reads there (``name``, ``kind``,
    ``attributes``, ``context``, ``parent``, the times), it has those, read-only and
    empty where nothing was recorded.
    """

    attributes: Mapping[str, types.AttributeValue] = MappingProxyType({})
    events: tuple[object, ...] = ()
    links: tuple[object, ...] = ()
    status = Status(StatusCode.UNSET)
    end_time: int | None = None

    def __init__(
        self, name: str, kind: SpanKind, parent: Context, make_context: ContextMaker
    ) -> None:
        self.name = name
        self.kind = kind
        self.start_time = time.time_ns()
        self._parent = parent
        self._make_context = make_context

    @property
    def context(self) -> SpanContext:
        return self.get_span_context()

    @property
    def parent(self) -> SpanContext | None:
        return _valid_parent(self._parent)

    def get_span_context(self) -> SpanContext:
        made: SpanContext | None = self.__dict__.get("_context")
        if made is None:  # setdefault: threads asking at once all get the first one made
            made = self.__dict__.setdefault("_context", self._make_context(self._parent))
        return made

    def is_recording(self) -> bool:
        return False

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is None:
            self.end_time = end_time if end_time is not None else time.time_ns()

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        pass

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        pass

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        pass

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        pass

    def update_name(self, name: str) -> None:
        pass

    def set_status(
        self, status: Status | StatusCode, description: str | None = None
    ) -> None:
        pass

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        pass

    def __repr__(self) -> str:
        return f"UnrecordedCallSpan({self.get_span_context()!r})"


_watch: tuple[Any, tuple[object, ...], ContextMaker] | None = None
"""The watched provider's span processor (which its SDK tracers hold), the processors it
had when watched, and how its calls' contexts are made; ``None`` when something might
read spans. One tuple, so a call reads all three at once."""


def watch(provider: Any, own_processor: object) -> None:
    """Leave calls unrecorded while ``own_processor`` (the package's, with no exporter
    behind it) is the only span processor of ``provider``, an SDK ``TracerProvider``
    sampling with ``RECORD_EVERY_CALL`` (the switch checks the sampler).

    The SDK keeps a provider's processors in a tuple it replaces on every addition, so
    the check is one identity test. An SDK that keeps them otherwise gets no watch:
    every call is recorded, as before.
    """
    global _watch
    multi: Any = getattr(provider, "_active_span_processor", None)
    processors = getattr(multi, "_span_processors", None)
    if processors != (own_processor,):
        _watch = None
        return
    _watch = (multi, processors, _context_maker(provider.id_generator))


def forget() -> None:
    """Record every call's span again (the switch stops, or has exporters)."""
    global _watch
    _watch = None


def unrecorded_span(
    tracer: object, name: str, options: Mapping[str, Any]
) -> UnrecordedCallSpan | None:
    """A call's :class:`UnrecordedCallSpan`, for ``tracer.start_span(name, **options)``,
    or ``None`` when something reads spans and ``tracer`` must record the call's span."""
    watched = _watch
    if watched is None:
        return None
    multi, alone, make_context = watched
    real_tracer = getattr(tracer, "_tracer", tracer)  # an API ProxyTracer's, once set
    if getattr(real_tracer, "span_processor", None) is not multi:
        return None
    if getattr(multi, "_span_processors", None) is not alone:
        forget()
        return None
    parent = options.get("context")
    return UnrecordedCallSpan(
        name, options.get("kind", SpanKind.INTERNAL),
        get_current() if parent is None else parent, make_context,
    )


def _context_maker(id_generator: Any) -> ContextMaker:
    """How an unrecorded span's ids are made under its parent context, as the SDK would
    make them with ``RECORD_EVERY_CALL``: a child keeps its parent's trace, sampled and
    random-id flags and trace state; a root span starts a sampled trace."""
    root_flags = TraceFlags(TraceFlags.SAMPLED)
    if _RANDOM_TRACE_ID and getattr(id_generator, "is_trace_id_random", lambda: False)():
        root_flags = TraceFlags(root_flags | _RANDOM_TRACE_ID)

    def make_context(parent_context: Context) -> SpanContext:
        parent = _valid_parent(parent_context)
        if parent is not None:
            return SpanContext(
                parent.trace_id, id_generator.generate_span_id(), is_remote=False,
                trace_flags=TraceFlags(parent.trace_flags & _KEPT_FLAGS),
                trace_state=parent.trace_state,
            )
        return SpanContext(
            id_generator.generate_trace_id(), id_generator.generate_span_id(),
            is_remote=False, trace_flags=root_flags,
        )

    return make_context


def _valid_parent(parent_context: Context) -> SpanContext | None:
    """The span context of the span current in ``parent_context``, if it is a valid one."""
    if not parent_context:  # an empty context is a call without trace headers
        return None
    parent = trace.get_current_span(parent_context).get_span_context()
    return parent if parent.is_valid else None
