"""Celery: every task run becomes a CONSUMER span and an ``entrypoint_fired`` event, and
every task published from an instrumented call carries that call's stack.

Envelope: ``service_name`` the configured service name (``EVENTLOG_SERVICE_NAME``), or
the Celery app's main name when none is configured; ``entrypoint_protocol``
``"CeleryTask"``; ``entrypoint_name`` the task name. ``data`` holds ``task_id``,
``retries``, ``state`` (``SUCCESS``, ``FAILURE``, ``RETRY``, ...), ``duration_ms``,
``outcome`` (``ok``, ``error``, or ``retry`` for an attempt that asked to be retried,
with ``retry_reason``), ``trace_id``, ``span_id``, and on an error ``error_type`` and
``error_message``. An exception listed in the task's ``throws`` is not an error: the
outcome is ``ok`` and ``data`` says ``expected_error_type`` and
``expected_error_message``.

Propagation: ``delay``, ``apply_async`` and ``send_task`` called inside an instrumented
call (a Flask request, a Nameko worker, another task) put the call stack in the task
message header ``eventlog_call_stack`` and the W3C ``traceparent`` beside it, at the
top level of the message headers and in its nested ``headers`` dict (Celery reads
custom headers from either, depending on version and protocol); the worker reads
both, so the task's ``call_stack`` extends the publisher's. A retry is published by
the attempt that failed, so the next attempt's stack extends that attempt's. Headers
come from whoever published the message: an ``eventlog_call_stack`` that is not a list
of valid call ids (see :mod:`eventlog_instrument.calls`) starts a fresh stack, and a
malformed trace header (of the wrong type, say) a fresh trace; the task runs and gets
its event either way. The task name goes into the call id as a safe name.

Canvas needs nothing more, since every member is published through the same signal by
whoever publishes it: a ``group``'s members and a ``chord``'s header tasks extend the
call that applies them; a ``chain``'s first task extends that call and each later one
the task before it, which publishes it when it finishes; a chord's callback extends the
header task that finishes last, which publishes it (the result backend's
``on_chord_part_return`` runs inside that task's call). All stay in the caller's trace.

Prefork: each pool child builds its own exporter connections and thread after the
fork, and flushes its pending events when it exits (``worker_max_tasks_per_child``,
pool shrink, warm shutdown) within ``EVENTLOG_SHUTDOWN_TIMEOUT``.

Why signals and not wrappers: Celery runs a task's body through a tracer closure it
builds per task, and publishes through a closure too; its signals are the stable,
documented hooks at exactly these points. They are declared below as data and
connected and disconnected like the other instrumentors' wrappers.
"""

from __future__ import annotations

import sys
from collections.abc import Set
from contextvars import Token
from typing import Any, ClassVar

import wrapt
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from eventlog_instrument import __version__, runtime
from eventlog_instrument import constants as c
from eventlog_instrument.calls import (
    continued_stack,
    current_call,
    new_call_record,
    set_call_data,
    start_call_span,
)
from eventlog_instrument.fastpath import propagation_fields
from eventlog_instrument.instrumentors.framework import FrameworkInstrumentor
from eventlog_instrument.instrumentors.hooks import (
    NEW_TRACE,
    begin_call,
    end_call,
    expected_exceptions,
    guarded,
    inject_call_context,
    propagated_context,
    record_outcome,
    suppressed,
)

_DATA = c.ATTR_DATA_PREFIX
_NESTED_HEADERS = "headers"


class CeleryInstrumentor(FrameworkInstrumentor):
    """Spans and ``entrypoint_fired`` events for every Celery task run."""

    name = "celery"
    library = "celery"
    supported = ((5, 3), (6,))
    targets: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    signals: ClassVar[tuple[tuple[str, str], ...]] = (
        ("before_task_publish", "_before_task_publish"),
        ("task_prerun", "_task_prerun"),
        ("task_retry", "_task_retry"),
        ("task_failure", "_task_failure"),
        ("task_postrun", "_task_postrun"),
        ("worker_process_shutdown", "_worker_process_shutdown"),
    )
    """``(signal in celery.signals, handler method)``, connected while instrumented."""

    def __init__(self) -> None:
        super().__init__()
        self._tracer = trace.get_tracer("eventlog_instrument.celery", __version__)
        self._runs: dict[str, tuple[Span, Token[Context]]] = {}
        self._connected = False
        self._hook_registered = False

    def instrument(self, settings: Any) -> None:
        if self.is_instrumented:
            return
        super().instrument(settings)
        if "celery" in sys.modules:
            self._connect()
        elif not self._hook_registered:
            self._hook_registered = True
            wrapt.register_post_import_hook(lambda _module: self._connect(), "celery")

    def uninstrument(self) -> None:
        if not self.is_instrumented:
            return
        if self._connected:
            from celery import signals

            for signal_name, handler in self.signals:
                getattr(signals, signal_name).disconnect(getattr(self, handler))
            self._connected = False
        super().uninstrument()

    def _connect(self) -> None:
        """Connect the handlers, once Celery is imported (importing it costs 50 ms)."""
        if not self.is_instrumented or self._connected:
            return
        from celery import signals

        for signal_name, handler in self.signals:
            getattr(signals, signal_name).connect(getattr(self, handler), weak=False)
        self._connected = True

    @guarded("add the call stack to a Celery task")
    def _before_task_publish(self, headers: dict[str, Any] | None = None, **_: Any) -> None:
        if headers is None or suppressed():
            return
        carried: dict[str, Any] = {}
        inject_call_context(carried, c.CALL_STACK_TASK_HEADER, current_call())
        if carried:
            headers.update(carried)
            nested = headers.get(_NESTED_HEADERS)
            if isinstance(nested, dict):
                nested.update(carried)
            else:
                headers[_NESTED_HEADERS] = dict(carried)

    @guarded("start the span of a Celery task")
    def _task_prerun(self, task_id: str = "", task: Any = None, **_: Any) -> None:
        if task is None or suppressed():
            return
        request = task.request
        fields = propagation_fields()
        carrier = _carrier(request, fields)
        parent_stack = continued_stack(carrier.get(c.CALL_STACK_TASK_HEADER))
        reserved = new_call_record(
            self._service_name(task), c.CELERY_PROTOCOL, task.name, parent_stack
        )
        reserved[_DATA + "task_id"] = task_id
        retries = request.retries
        reserved[_DATA + "retries"] = retries if type(retries) is int else 0
        span = start_call_span(
            self._tracer,
            task.name,
            reserved,
            context=propagated_context(carrier, fields, NEW_TRACE),
            kind=SpanKind.CONSUMER,
        )
        self._runs[task_id] = (span, begin_call(span))

    @guarded("record the retry of a Celery task")
    def _task_retry(self, request: Any = None, reason: Any = None, **_: Any) -> None:
        run = self._runs.get(getattr(request, "id", None) or "")
        if run is not None:
            span = run[0]
            set_call_data(span, "outcome", "retry")
            set_call_data(span, "retry_reason", str(reason))

    @guarded("record the failure of a Celery task")
    def _task_failure(
        self, task_id: str = "", exception: BaseException | None = None, sender: Any = None,
        **_: Any,
    ) -> None:
        run = self._runs.get(task_id)
        if run is not None and exception is not None:
            expected = expected_exceptions(getattr(sender, "throws", None))
            record_outcome(run[0], exception, expected)

    @guarded("end the span of a Celery task")
    def _task_postrun(self, task_id: str = "", state: str | None = None, **_: Any) -> None:
        run = self._runs.pop(task_id, None)
        if run is None:
            return
        span, token = run
        try:
            if state is not None:
                set_call_data(span, "state", str(state))
        finally:
            end_call(span, token)

    @guarded("flush the events of a Celery pool child before it exits")
    def _worker_process_shutdown(self, **_: Any) -> None:
        """A pool child leaves with ``os._exit``, which skips ``atexit``: flush now."""
        runtime.flush_and_stop()

    def _service_name(self, task: Any) -> str:
        return self.configured_service_name or str(getattr(task.app, "main", None) or "celery")


def _carrier(request: Any, fields: Set[str]) -> dict[str, Any]:
    """The propagated headers of a task request, from either header level."""
    carrier: dict[str, Any] = {}
    nested = getattr(request, _NESTED_HEADERS, None)
    if isinstance(nested, dict):
        carrier.update(nested)
    for key in (c.CALL_STACK_TASK_HEADER, *fields):
        value = getattr(request, key, None)
        if value is not None:
            carrier[key] = value
    return carrier
