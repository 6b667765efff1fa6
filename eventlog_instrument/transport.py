"""Call stacks over transports the package does not instrument: a kafka-python consumer
loop, a pika consumer, a custom RPC.

    from eventlog_instrument import call_headers, continued_call

    # sending side, inside an instrumented call (a Flask view, a Celery task, ...)
    producer.send("orders", value, headers=[(k, v.encode()) for k, v in call_headers().items()])

    # receiving side
    for message in consumer:
        with continued_call(message.headers, service="billing",
                            entrypoint_protocol="KafkaConsumer", entrypoint_name="orders"):
            handle(message)

:func:`call_headers` returns the headers an outgoing message carries: ``X-Call-Stack``
(the current call's stack, call ids outermost first, comma separated, as the HTTP hops
send it) and the configured propagator's (``traceparent``, ...). Outside an instrumented
call there is no stack to send, so only the propagator's headers come back: nothing
unless the application's own OpenTelemetry span is current, whose trace the receiver
then joins. Before ``instrument()``, after ``uninstrument()`` and with instrumentation
suppressed, nothing comes back, and :func:`continued_call` just runs its block.

:func:`continued_call` runs its block as an instrumented call of the caller's
``service``, ``entrypoint_protocol`` and ``entrypoint_name``, continuing the received
headers: its ``call_stack`` is the sender's plus its own call id, in the sender's trace,
and it ends with an ``entrypoint_fired`` event like any entrypoint's (``data`` holds
``duration_ms``, ``outcome``, ``trace_id``, ``span_id``, and on an error ``error_type``
and ``error_message``). Messages and calls made inside the block (Celery tasks, HTTP
requests, :func:`call_headers`) extend its stack. An exception leaving the block is
recorded as the call's error and re-raised unchanged.

The headers are accepted as they arrive: a mapping (pika's ``properties.headers``, a
dict) or an iterable of ``(name, value)`` pairs (kafka-python's ``message.headers``),
names in any letter case, values ``str`` or ``bytes``; ``None`` for none. They come
from whoever sent the message: a value that is not ASCII text, or a stack that is not a
list of valid call ids (see :mod:`eventlog_instrument.calls`), starts a fresh stack,
and a malformed trace header a fresh trace; the block runs either way. The package's
own failures never reach the block (see :mod:`eventlog_instrument.instrumentors.hooks`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from eventlog_instrument import __version__, runtime
from eventlog_instrument import constants as c
from eventlog_instrument.calls import (
    continued_stack,
    current_call,
    new_call_record,
    parse_call_stack,
    start_call_span,
)
from eventlog_instrument.fastpath import propagation_fields
from eventlog_instrument.instrumentors.hooks import (
    NEW_TRACE,
    begin_call,
    end_call,
    guarded,
    inject_call_context,
    propagated_context,
    record_error,
    suppressed,
)

Headers = Mapping[Any, Any] | Iterable[tuple[Any, Any]] | None
"""Received headers: a mapping, or ``(name, value)`` pairs; values ``str`` or ``bytes``."""

_tracer = trace.get_tracer("eventlog_instrument.transport", __version__)
_STACK_KEY = c.CALL_STACK_HTTP_HEADER.lower()
MAX_HEADER_VALUE_BYTES = 16_384
"""Longer received values are not decoded: no valid stack or trace header needs them."""


def call_headers() -> dict[str, str]:
    """The headers to send with an outgoing message from here (see the module's docs)."""
    return _call_headers() or {}


@guarded("compute the headers of an outgoing message")
def _call_headers() -> dict[str, str]:
    if suppressed() or not runtime.is_instrumented():
        return {}
    carrier: dict[str, Any] = {}
    call = current_call()
    inject_call_context(carrier, c.CALL_STACK_HTTP_HEADER, call)
    if call is not None:
        carrier[c.CALL_STACK_HTTP_HEADER] = ",".join(call.call_stack)
    return {name: str(value) for name, value in carrier.items()}


@contextmanager
def continued_call(
    headers: Headers, *, service: str, entrypoint_protocol: str, entrypoint_name: str
) -> Iterator[None]:
    """Run the block as a call continuing ``headers`` (see the module's docs)."""
    for name, value in (("service", service), ("entrypoint_protocol", entrypoint_protocol),
                        ("entrypoint_name", entrypoint_name)):
        if not isinstance(value, str) or not value:
            raise TypeError(f"{name} must be a non-empty str, got {value!r}")
    started = None
    if runtime.is_instrumented() and not suppressed():
        started = _start(headers, (service, entrypoint_protocol, entrypoint_name))
    if started is None:
        yield
        return
    span, token = started
    try:
        yield
    except BaseException as error:
        _record(span, error)
        raise
    finally:
        _end(span, token)


@guarded("start the call of a received message")
def _start(headers: Headers, names: tuple[str, str, str]) -> tuple[Span, Any]:
    fields = propagation_fields()
    carrier = _text_headers(headers, {_STACK_KEY, *fields})
    reserved = new_call_record(*names, parse_call_stack(carrier.get(_STACK_KEY)))
    span = start_call_span(
        _tracer, names[2], reserved,
        context=propagated_context(carrier, fields, NEW_TRACE), kind=SpanKind.CONSUMER,
    )
    return span, begin_call(span)


@guarded("record the error of a received message's call")
def _record(span: Span, error: BaseException) -> None:
    record_error(span, error)


@guarded("end the call of a received message")
def _end(span: Span, token: Any) -> None:
    end_call(span, token)


def _text_headers(headers: Headers, wanted: set[str]) -> dict[str, str]:
    """The ``wanted`` headers (lower-case names) as text; undecodable values left out.

    A stack given as a list of call ids (a header table's array) is kept as its text.
    """
    if headers is None:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, str] = {}
    for pair in pairs:
        if not isinstance(pair, tuple) or len(pair) != 2:
            continue
        name, value = pair
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if not isinstance(name, str) or name.lower() not in wanted:
            continue
        text = _text(value)
        if text is not None:
            found[name.lower()] = text
    return found


def _text(value: object) -> str | None:
    if isinstance(value, (list, tuple)) and continued_stack(value):
        return ",".join(value)
    if isinstance(value, (bytes, bytearray)):
        if len(value) > MAX_HEADER_VALUE_BYTES:
            return None
        try:
            return bytes(value).decode("ascii")
        except UnicodeDecodeError:
            return None
    if isinstance(value, str) and len(value) <= MAX_HEADER_VALUE_BYTES and value.isascii():
        return value
    return None
