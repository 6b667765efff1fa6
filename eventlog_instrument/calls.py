"""Call identities: call ids, call stacks, and the call spans instrumentors start.

A call span carries its envelope identity, and the ``eventlog.data.*`` facts an
instrumentor learns, in a record of the package's own on the span object
(:func:`start_call_span`, :func:`set_call_data`), keyed like reserved ``eventlog.*``
attributes. The record is not the SDK's ``BoundedAttributes``: user-set span limits
(``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT``, ``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``) apply to
user attributes only, and can never cut a call's identity or a manual event's payload.
A manual event dispatched inside the call, and the exporter building the
``entrypoint_fired`` event, both read the record from the span.

Bounding rules, shared by every instrumentor:

* every name that goes into a call id is a safe name (:func:`safe_name`): ASCII
  letters, digits, ``_``, ``.`` and ``-``, any other character replaced by ``_``, at
  most ``SAFE_NAME_LENGTH`` characters; so a call id is always fit for an HTTP header;
* an incoming call stack (an ``X-Call-Stack`` header, a task's ``eventlog_call_stack``,
  the ``call_id_stack`` a Nameko worker was called with) is continued only when every
  call id in it is printable ASCII without spaces or commas, at most
  ``MAX_CALL_ID_LENGTH`` characters; otherwise the call starts a fresh stack. Of a
  valid one, the newest ids that fit in ``MAX_INCOMING_STACK_BYTES`` are kept;
* a call id made elsewhere (Nameko's own) is kept when it is such a call id, and reduced
  to one otherwise (:func:`safe_call_id`).

A span started inside a call by anything else (the application's own
``start_as_current_span``, another OpenTelemetry instrumentation on the package's
provider) is linked to the call's span as it starts (:func:`link_to_call`), so the call
is found beneath any depth of such spans (:func:`call_span_of`, :func:`current_call`,
log capture); a call whose span has ended is no one's current call.

A failed call's error type and message are kept in the record too
(:func:`set_call_error`): taken from the exception itself, never from the SDK's
exception event, whose attributes the user's span limits cut or drop.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span

from eventlog_instrument import constants as c
from eventlog_instrument.unread import unrecorded_span

IDENTITY_ATTRIBUTES = (
    c.ATTR_SERVICE_NAME, c.ATTR_ENTRYPOINT_PROTOCOL, c.ATTR_ENTRYPOINT_NAME, c.ATTR_CALL_ID,
    c.ATTR_CALL_STACK,
)
"""The reserved keys of a call's identity, in the order of :class:`CallIdentity`'s fields."""


class CallIdentity(NamedTuple):
    """The first five envelope keys of one call."""

    service_name: str
    entrypoint_protocol: str
    entrypoint_name: str
    call_id: str
    call_stack: tuple[str, ...]
    routing_key: str | None = None
    """The AMQP routing key of this call's events, when not the exporter's default."""

    def attributes(self) -> dict[str, Any]:
        attributes = identity_record(*self[:5])
        if self.routing_key is not None:
            attributes[c.ATTR_ROUTING_KEY] = self.routing_key
        return attributes


def new_call_id(service_name: str, entrypoint_name: str) -> str:
    """``<service>.<entrypoint_name>.<uuid4>``, the form Nameko gives its call ids, both
    names reduced to :func:`safe_name`.

    The uuid comes from ``random`` rather than ``os.urandom``: a call id names a call,
    it guards nothing, and this is twice as fast on every request. ``random`` reseeds
    itself in a forked child, so workers never repeat each other's ids. The uuid's text
    is formatted here, which costs half of building a ``uuid.UUID``.
    """
    digits = "%032x" % (random.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET)
    return (
        # names cut before the cache, which would otherwise keep them whole
        f"{_call_id_prefix(service_name[:SAFE_NAME_LENGTH], entrypoint_name[:SAFE_NAME_LENGTH])}"
        f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
    )


@functools.lru_cache(maxsize=512)
def _call_id_prefix(service_name: str, entrypoint_name: str) -> str:
    """``<service>.<entrypoint_name>.`` as safe names: one cache lookup, not two."""
    return f"{safe_name(service_name)}.{safe_name(entrypoint_name)}."


_UUID4_CLEAR = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
"""Clears the version and variant bits of 128 random bits."""
_UUID4_SET = (0x4 << 76) | (0x2 << 62)
"""Version 4, variant RFC 4122."""

SAFE_NAME_LENGTH = 100
"""Longest name (service or entrypoint) put into a call id."""
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9_.\-]")


@functools.lru_cache(maxsize=512)
def safe_name(name: str) -> str:
    """``name`` fit for a call id and an HTTP header: ASCII letters, digits, ``_``, ``.``
    and ``-``, every other character ``_``, cut at ``SAFE_NAME_LENGTH``; ``_`` if empty.

    Cached: services, endpoints and task names repeat on every call.
    """
    return _UNSAFE_CHARACTERS.sub("_", name[:SAFE_NAME_LENGTH]) or "_"


_CALL_STACK_LIMIT = c.CALL_STACK_LIMIT
"""``constants.CALL_STACK_LIMIT`` read once at import: every new call reads it."""


def extend_call_stack(parent_stack: Sequence[str], call_id: str) -> tuple[str, ...]:
    """The parent's stack with ``call_id`` appended, keeping the newest ``CALL_STACK_LIMIT``."""
    stack = (*parent_stack, call_id)
    return stack if len(stack) <= _CALL_STACK_LIMIT else stack[-_CALL_STACK_LIMIT:]


MAX_CALL_ID_LENGTH = 256
"""Longest incoming call id continued; Nameko's and this package's are under 250."""
MAX_INCOMING_STACK_BYTES = 2048
"""Most bytes of incoming call ids kept: the newest that fit."""
_CALL_ID = re.compile(rf"[!-+\--~]{{1,{MAX_CALL_ID_LENGTH}}}")
"""Printable ASCII with no space and no comma (the separator of ``X-Call-Stack``)."""


def parse_call_stack(text: str | None) -> tuple[str, ...]:
    """The call ids of an incoming ``X-Call-Stack`` header; ``()`` when absent or malformed.

    A malformed header (an empty, over-long or space-holding call id, a control or
    non-ASCII character) starts a fresh stack rather than failing the request.
    """
    if not text or len(text) > _MAX_HEADER_LENGTH:
        return ()
    return continued_stack([part.strip() for part in text.split(",")])


_MAX_HEADER_LENGTH = c.CALL_STACK_LIMIT * (MAX_CALL_ID_LENGTH + 2) * 4
"""Longer headers are not even split: no valid stack of any length needs more."""


def continued_stack(call_ids: object) -> tuple[str, ...]:
    """The parent stack an incoming sequence of call ids stands for, bounded; ``()`` when
    it is not a list or tuple of valid call ids (see the module's bounding rules)."""
    if not isinstance(call_ids, (list, tuple)) or len(call_ids) > _MAX_INCOMING_IDS:
        return ()
    for call_id in call_ids:
        if type(call_id) is not str or not _CALL_ID.fullmatch(call_id):
            return ()
    kept: list[str] = []
    size = 0
    for call_id in reversed(call_ids[-(c.CALL_STACK_LIMIT - 1) :]):
        size += len(call_id) + 1
        if size > MAX_INCOMING_STACK_BYTES:
            break
        kept.append(call_id)
    return tuple(reversed(kept))


_MAX_INCOMING_IDS = 1000
"""More ids than this is not a call stack: it is not even looked at."""


def safe_call_id(call_id: str) -> str:
    """``call_id`` when it is a valid call id (see the module's rules), else its first
    ``MAX_CALL_ID_LENGTH`` characters with every one outside ``safe_name``'s set ``_``."""
    if _CALL_ID.fullmatch(call_id):
        return call_id
    return _UNSAFE_CHARACTERS.sub("_", call_id[:MAX_CALL_ID_LENGTH]) or "_"


def new_call(
    service_name: str,
    entrypoint_protocol: str,
    entrypoint_name: str,
    parent_stack: Sequence[str] = (),
) -> CallIdentity:
    """A fresh call of ``entrypoint_name`` continuing ``parent_stack``."""
    call_id = new_call_id(service_name, entrypoint_name)
    return CallIdentity(
        service_name,
        entrypoint_protocol,
        entrypoint_name,
        call_id,
        extend_call_stack(parent_stack, call_id),
    )


def new_call_record(
    service_name: str,
    entrypoint_protocol: str,
    entrypoint_name: str,
    parent_stack: Sequence[str] = (),
) -> dict[str, Any]:
    """``new_call(...).attributes()``, the identity a hook hands to
    :func:`start_call_span`, without making the :class:`CallIdentity` in between: every
    instrumented call starts here, and that object and its method call cost 5,000
    instructions of each. The call id is the record's ``ATTR_CALL_ID``."""
    call_id = new_call_id(service_name, entrypoint_name)
    return identity_record(
        service_name,
        entrypoint_protocol,
        entrypoint_name,
        call_id,
        extend_call_stack(parent_stack, call_id),
    )


def identity_record(
    service_name: str,
    entrypoint_protocol: str,
    entrypoint_name: str,
    call_id: str,
    call_stack: tuple[str, ...],
) -> dict[str, Any]:
    """The reserved identity keys of a call, with their values."""
    return {
        c.ATTR_SERVICE_NAME: service_name,
        c.ATTR_ENTRYPOINT_PROTOCOL: entrypoint_protocol,
        c.ATTR_ENTRYPOINT_NAME: entrypoint_name,
        c.ATTR_CALL_ID: call_id,
        c.ATTR_CALL_STACK: call_stack,
    }


RECORD_ATTRIBUTE = "_eventlog_record"
"""Name of the package's record: reserved ``eventlog.*`` key to value.

It hangs on the SDK span's attributes object, not on the span: the SDK hands its
processors a new ``ReadableSpan`` at the end, which shares only that object. A span
without one (a non-recording span) carries the record itself.
"""


def start_call_span(
    tracer: trace.Tracer, name: str, reserved: dict[str, Any], **options: Any
) -> Span:
    """``tracer.start_span(name, **options)`` carrying ``reserved`` (identity, manual
    payload, ``eventlog.data.*``) in the package's record, out of reach of span limits.

    ``reserved`` is kept, not copied: the caller hands it over. While nothing reads
    spans, the span is not recorded (see :mod:`eventlog_instrument.unread`).
    """
    span: Span | None = unrecorded_span(tracer, name, options)
    if span is None:
        span = tracer.start_span(name, **options)
    holder = getattr(span, "_attributes", None)
    setattr(span if holder is None else holder, RECORD_ATTRIBUTE, reserved)
    return span


def reserved_record(span: object) -> dict[str, Any] | None:
    """The package's record on ``span`` (live or ended), if :func:`start_call_span`
    started it."""
    record = getattr(getattr(span, "_attributes", None), RECORD_ATTRIBUTE, None)
    if record is None:
        record = getattr(span, RECORD_ATTRIBUTE, None)
    return record


def set_call_data(span: Span, key: str, value: Any) -> None:
    """Put ``value`` in the ``data`` of the call's ``entrypoint_fired`` event as ``key``."""
    record = reserved_record(span)
    if record is None:
        span.set_attribute(c.ATTR_DATA_PREFIX + key, value)
    else:
        record[c.ATTR_DATA_PREFIX + key] = value


ERROR_TYPE_KEY = c.RESERVED_PREFIX + "error_type"
"""Record key of a failed call's exception type (its class name)."""
ERROR_MESSAGE_KEY = c.RESERVED_PREFIX + "error_message"
"""Record key of a failed call's exception message, whole: the envelope scrubs, then cuts it."""


def set_call_error(span: Span, error_type: str, message: str) -> None:
    """Keep the call's error type and message in the record (a span without one, not
    started by :func:`start_call_span`, keeps only the SDK's exception event)."""
    record = reserved_record(span)
    if record is not None:
        record[ERROR_TYPE_KEY] = error_type
        record[ERROR_MESSAGE_KEY] = message


def current_call() -> CallIdentity | None:
    """The identity of the live instrumented call the current span is or runs under, if any.

    A span without the package's record (one started by user code with
    :meth:`CallIdentity.attributes`) is read from its attributes.
    """
    span = call_span_of(trace.get_current_span())
    if span is None:
        return None
    attributes = reserved_record(span) or span.attributes
    return CallIdentity(
        str(attributes[c.ATTR_SERVICE_NAME]),
        str(attributes[c.ATTR_ENTRYPOINT_PROTOCOL]),
        str(attributes[c.ATTR_ENTRYPOINT_NAME]),
        str(attributes[c.ATTR_CALL_ID]),
        tuple(attributes[c.ATTR_CALL_STACK]),
        attributes.get(c.ATTR_ROUTING_KEY),
    )


CALL_LINK_ATTRIBUTE = "_eventlog_call"
"""Name of the link from a span the application (or another instrumentation) started
inside a call to that call's span, beside where the record would be."""


def _is_call(span: object) -> bool:
    attributes = reserved_record(span) or getattr(span, "attributes", None)
    return bool(attributes and c.ATTR_CALL_ID in attributes)


def _link_holder(span: object) -> Any:
    """Where ``span``'s call link hangs: its attributes object, as for the record."""
    holder = getattr(span, "_attributes", None)
    return span if holder is None else holder


def _call_of(span: object) -> Any:
    """``span`` itself when it is a call's, else the call it is linked to, if any."""
    return span if _is_call(span) else getattr(_link_holder(span), CALL_LINK_ATTRIBUTE, None)


def call_span_of(span: object) -> Any:
    """The span of the call ``span`` is, or was started under at any depth; ``None``
    when there is none or that call's span has ended (a task or greenthread outliving
    its call is not part of it any more)."""
    call = _call_of(span)
    return call if call is not None and getattr(call, "end_time", None) is None else None


def link_to_call(span: object, parent_context: Context | None) -> None:
    """A span processor's ``on_start``: link ``span`` to the call its parent is or runs
    under. Call spans are linked too, harmlessly: the record set once the SDK has
    started them wins."""
    if parent_context is not None and not parent_context:
        return  # a call coming without trace headers starts a trace: nothing to look up
    parent = trace.get_current_span(parent_context)
    if parent is trace.INVALID_SPAN:
        return
    call = _call_of(parent)
    if call is not None:
        setattr(_link_holder(span), CALL_LINK_ATTRIBUTE, call)
