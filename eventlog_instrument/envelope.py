"""Turns a finished OpenTelemetry span into an event: the envelope of SPEC §2 and its JSON.

Three kinds of span become events:

* a call span (an instrumented entrypoint, marked by the ``eventlog.call_id``
  attribute) becomes an ``entrypoint_fired`` event, unless its
  ``eventlog.auto_capture`` attribute is ``False``; its custom attributes become
  metadata and its ``data`` carries what the span learned (see :func:`span_data`);
* a manual event span (marked by ``eventlog.event_type``) becomes the caller's event,
  with the caller's data and metadata;
* a SERVER or CONSUMER span from any other instrumentation (the official OpenTelemetry
  ones, say) becomes an ``entrypoint_fired`` event whose identity is derived from the
  span: its name is the entrypoint name (cut at ``EVENTLOG_MAX_VALUE_LENGTH``), its kind
  the protocol, and its call id is built from its name as a safe name (see
  :mod:`eventlog_instrument.calls`) and its span id, so that it is safe and stable.
  Other foreign spans are not events.

``data`` of an auto-captured event holds ``duration_ms`` (float, milliseconds to the
microsecond, half up), ``outcome`` (``"ok"`` or ``"error"``), on error ``error_type``
and ``error_message`` (from the exception itself, kept in the call's own record
whatever the span limits; for a foreign span, from its exception event, else its
status), ``trace_id`` and ``span_id`` (hex, as OpenTelemetry backends show them, to
find the span of an event), plus every ``eventlog.data.<key>`` attribute an
instrumentor set, as ``<key>``, and the call's log records as ``logs`` and
``logs_dropped`` (:mod:`eventlog_instrument.log_records`).

Every body is strict JSON (never ``NaN`` or ``Infinity``) in valid UTF-8, a lone
surrogate in a text replaced by U+FFFD; an event that cannot be encoded so is a
``ValueError`` (the pipeline counts it dropped as invalid). In an auto-captured event,
values follow :mod:`eventlog_instrument.strict_json` (each text at most
``EVENTLOG_MAX_VALUE_LENGTH`` at any depth, ``bytes`` as text, non-finite floats as
``"nan"``/``"inf"``/``"-inf"``), the free text the package captured is scrubbed of
credentials (:mod:`eventlog_instrument.scrubbing`), and an event over
``EVENTLOG_MAX_EVENT_BYTES`` has its largest metadata and ``data`` values cut until it
fits; each cut value is named in ``data._truncated``. An event whose identity alone is
over the bound, or a manual event over it, is left whole for the pipeline to drop.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from eventlog_instrument import constants as c
from eventlog_instrument.calls import (
    ERROR_MESSAGE_KEY,
    ERROR_TYPE_KEY,
    IDENTITY_ATTRIBUTES,
    SAFE_NAME_LENGTH,
    safe_name,
)
from eventlog_instrument.fastpath import attributes_of as attributes_of
from eventlog_instrument.fastpath import event_options, resource_service_name
from eventlog_instrument.fastpath import format_timestamp as format_timestamp
from eventlog_instrument.json_body import encoded
from eventlog_instrument.json_body import envelope_json as envelope_json
from eventlog_instrument.log_records import LOGS_KEY, CapturedLogs, cut_counting_logs, logs_data
from eventlog_instrument.scrubbing import DEFAULT_SCRUBBER, Scrubber
from eventlog_instrument.strict_json import TRUNCATED_KEY, ValueRules

if TYPE_CHECKING:
    from eventlog_instrument.settings import Settings

_ENTRYPOINT_KINDS = (SpanKind.SERVER, SpanKind.CONSUMER)
_ERROR = StatusCode.ERROR
"""Read once: an enum member looked up on its class costs a microsecond a span."""
_new_tuple = tuple.__new__


class SpanRecord(NamedTuple):
    """What an event needs of a finished span, in few objects.

    The pipeline queues these instead of the SDK's ``ReadableSpan``: a span is dozens of
    objects that the cyclic garbage collector would traverse again and again while they
    wait for export, which cost a Flask request about 20 µs.
    """

    name: str
    kind: SpanKind
    start_time: int
    end_time: int
    attributes: dict[str, Any]
    failed: bool
    error: tuple[str | None, str | None]
    """Type and message of the call's error (:func:`_error_of`), else ``(None, status)``."""
    trace_id: int
    span_id: int
    resource_service_name: str | None

    @classmethod
    def of(cls, span: ReadableSpan, attributes: dict[str, Any] | None = None) -> SpanRecord:
        """The record of ``span``; ``attributes`` is ``attributes_of(span)`` when the
        caller has already read it (the processor has, for every span it accepts).

        Runs on the application's thread for every span: the SDK's own ``ReadableSpan``
        (every span ended by the SDK) is read through its fields, each of whose
        properties would cost a Python call.
        """
        if attributes is None:
            attributes = attributes_of(span)
        if type(span) is ReadableSpan:
            name, kind, status, context = span._name, span._kind, span._status, span._context
            start, end, resource = span._start_time, span._end_time, span._resource
        else:
            name, kind, status, context = span.name, span.kind, span.status, span.context
            start, end, resource = span.start_time, span.end_time, span.resource
        failed = status.status_code is _ERROR
        error: tuple[str | None, str | None] = (None, None)
        if failed:
            error = _error_of(span, attributes)
        # the tuple made directly: a NamedTuple's own constructor is a Python call
        return _new_tuple(cls, (
            name,
            kind,
            start or 0,
            end or start or 0,
            attributes,
            failed,
            error,
            context.trace_id if context else 0,
            context.span_id if context else 0,
            resource_service_name(resource),
        ))


def _error_of(span: ReadableSpan, attributes: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The call's own record of its error; else, for a span the package did not start,
    the SDK's last exception event, then the status."""
    if ERROR_TYPE_KEY in attributes:  # texts the hooks set (the rules make any value ready)
        return attributes[ERROR_TYPE_KEY], attributes.get(ERROR_MESSAGE_KEY)
    for event in reversed(span.events):
        if event.name == "exception" and event.attributes:
            return (
                _optional_text(event.attributes.get("exception.type")),
                _optional_text(event.attributes.get("exception.message")),
            )
    return (None, span.status.description)


class Event(NamedTuple):
    """An envelope ready to publish, with the routing facts metadata cannot change."""

    service_name: str
    """The service that handled the call (AMQP exchange ``<service_name>.events``)."""
    call_id: str
    call_stack: tuple[str, ...]
    event_type: str
    routing_key: str | None
    """The call's own AMQP routing key, or ``None`` for the exporter's configured one."""
    envelope: dict[str, Any]
    body: bytes
    """The envelope as UTF-8 JSON."""


DEFAULT_MAX_VALUE_LENGTH = 4096
DEFAULT_MAX_EVENT_BYTES = 1_000_000
_FREE_TEXT_DATA = frozenset(("expected_error_message", "retry_reason", "request_headers"))
"""``data`` keys whose text the package captured from the call, scrubbed of credentials."""
_IDENTITY_KEYS = frozenset(IDENTITY_ATTRIBUTES)
"""Reserved keys of every call, neither metadata nor ``data``: one set lookup passes
each, where the prefix tests would cost two method calls."""


def build_event(
    span: SpanRecord,
    *,
    precision: str = "seconds",
    default_service_name: str | None = None,
    max_value_length: int = DEFAULT_MAX_VALUE_LENGTH,
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    scrubber: Scrubber = DEFAULT_SCRUBBER,
) -> Event | None:
    """The event a finished span stands for, or ``None`` when the span is not an event.

    Raises ``ValueError`` when the envelope cannot be encoded as strict JSON.
    """
    attributes: Mapping[str, Any] = span.attributes
    call_id = attributes.get(c.ATTR_CALL_ID)
    if call_id is not None:
        service_name = str(attributes.get(c.ATTR_SERVICE_NAME))
        call_id = str(call_id)
        stack = attributes.get(c.ATTR_CALL_STACK)
        call_stack = tuple(stack) if isinstance(stack, (tuple, list)) and stack else (call_id,)
        identity = {
            c.SERVICE_NAME: service_name,
            c.ENTRYPOINT_PROTOCOL: attributes.get(c.ATTR_ENTRYPOINT_PROTOCOL),
            c.ENTRYPOINT_NAME: attributes.get(c.ATTR_ENTRYPOINT_NAME),
            c.CALL_ID: call_id,
            c.CALL_STACK: list(call_stack),
        }
    elif span.kind in _ENTRYPOINT_KINDS:
        identity = _foreign_identity(span, default_service_name, max_value_length)
        service_name = identity[c.SERVICE_NAME]
        call_stack = (identity[c.CALL_ID],)
    else:
        return None

    manual_event_type = attributes.get(c.ATTR_EVENT_TYPE)
    if manual_event_type is None and attributes.get(c.ATTR_AUTO_CAPTURE) is False:
        return None
    floats_written_alike = False
    if manual_event_type is None:
        event_type = c.ENTRYPOINT_FIRED
        rules = ValueRules(max_value_length, max_event_bytes)
        metadata, data = auto_captured(span, max_value_length, max_event_bytes, scrubber, rules)
        floats_written_alike = rules.floats_written_alike
    else:
        event_type = str(manual_event_type)
        metadata = json.loads(attributes.get(c.ATTR_METADATA, "{}"))
        data = json.loads(attributes.get(c.ATTR_EVENT_DATA, "{}"))

    envelope = identity
    for key, value in metadata.items():
        if key not in c.PROTECTED_KEYS:
            envelope[key] = value
    envelope[c.TIMESTAMP] = format_timestamp(span.start_time, precision)
    envelope[c.EVENT_TYPE] = event_type
    envelope[c.DATA] = data
    try:
        envelope, body = encoded(envelope, floats_written_alike)
        if len(body) > max_event_bytes and manual_event_type is None:
            keys = [key for key in metadata if key not in c.PROTECTED_KEYS]
            truncated = envelope[c.DATA].get(TRUNCATED_KEY, [])
            if cut_counting_logs(envelope, keys, len(body), max_event_bytes, truncated):
                envelope, body = encoded(envelope)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"the {event_type} event of {service_name} is not strict JSON: {error}"
        ) from error
    return _new_tuple(Event, (  # Event's fields, in order, without its Python constructor
        service_name,
        call_stack[-1],
        call_stack,
        event_type,
        attributes.get(c.ATTR_ROUTING_KEY),
        envelope,
        body,
    ))


def build_event_for(span: SpanRecord, settings: Settings) -> Event | None:
    """:func:`build_event` with the timestamp precision, default service name, size
    limits and scrub patterns of ``settings``."""
    return build_event(span, **event_options(settings))


def auto_captured(
    span: SpanRecord,
    limit: int,
    budget: int = DEFAULT_MAX_EVENT_BYTES,
    scrubber: Scrubber = DEFAULT_SCRUBBER,
    rules: ValueRules | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The metadata and ``data`` of an auto-captured event, JSON-ready.

    Metadata is every span attribute set by user code (everything outside
    ``eventlog.``). ``data`` is the duration, outcome, error, ids and every
    ``eventlog.data.<key>`` attribute. Values follow the rules of
    :mod:`eventlog_instrument.strict_json` (texts cut at ``limit``, a sequence's walk
    stopped past ``budget``), captured free text is scrubbed, and the names of the cut
    values are listed in ``data._truncated``. Plain short texts and ints, nearly every
    value, are taken as they are; every other value goes through ``rules`` (new ones
    when not given).
    """
    rules = rules if rules is not None else ValueRules(limit, budget)
    scrub = scrubber.scrub
    # to the microsecond, half up, in integers: round(x, 3) costs three times as much
    duration_us = (span.end_time - span.start_time + 500) // 1000
    data: dict[str, Any] = {"duration_ms": duration_us / 1000}
    data["outcome"] = "error" if span.failed else "ok"
    if span.failed:
        error_type, error_message = span.error
        data["error_type"] = rules.ready(error_type, "data.error_type")
        data["error_message"] = rules.free_text(error_message, "data.error_message", scrub)
    if span.span_id:
        # printf-style: half the cost of format() and f-strings
        data["trace_id"] = "%032x" % span.trace_id  # noqa: UP031
        data["span_id"] = "%016x" % span.span_id  # noqa: UP031
    metadata = {}
    reserved, data_prefix = c.RESERVED_PREFIX, c.ATTR_DATA_PREFIX
    prefix_length = len(data_prefix)
    for key, value in span.attributes.items():
        if key in _IDENTITY_KEYS:
            continue
        if key.startswith(data_prefix):
            name = key[prefix_length:]
            if len(name) > limit:
                name = rules.key(name, "data.")
            if name in _FREE_TEXT_DATA:
                value = rules.free_text(value, "data." + name, scrub)
            elif type(value) is not str or len(value) > limit:
                value = rules.ready(value, "data." + name)
            data[name] = value
        elif not key.startswith(reserved):
            if len(key) > limit:
                key = rules.key(key)
            if type(value) is not str or len(value) > limit:
                value = rules.ready(value, key)
            metadata[key] = value
    logs = span.attributes.get(LOGS_KEY)
    if type(logs) is CapturedLogs:  # the call's log records (log_capture.py)
        data.update(logs_data(logs, rules, scrub))
    data.pop(TRUNCATED_KEY, None)  # the package's own list: user data must not pose as it
    if rules.truncated:
        data[TRUNCATED_KEY] = rules.truncated
    return metadata, data


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _foreign_identity(
    span: SpanRecord, default_service_name: str | None, max_value_length: int
) -> dict[str, Any]:
    """The identity of another instrumentation's SERVER or CONSUMER span, whose name may be
    request text (a path): a safe name in the call id, cut to the value limit elsewhere."""
    service_name = span.resource_service_name or default_service_name or "unknown_service"
    trace_low = span.trace_id & 0xFFFF_FFFF_FFFF_FFFF
    # each cut before safe_name, whose cache would otherwise keep whole foreign names
    names = (safe_name(service_name[:SAFE_NAME_LENGTH]), safe_name(span.name[:SAFE_NAME_LENGTH]))
    call_id = "{}.{}.{}".format(*names, uuid.UUID(int=(span.span_id << 64) | trace_low))
    return {
        c.SERVICE_NAME: service_name,
        c.ENTRYPOINT_PROTOCOL: span.kind.name.title(),
        c.ENTRYPOINT_NAME: span.name[:max_value_length],
        c.CALL_ID: call_id,
        c.CALL_STACK: [call_id],
    }
