"""Manual events: ``dispatch_event(event_type, event_data=None, metadata=None)``.

The call shape is nameko-eventlog-dispatcher's. Inside an instrumented call the event
carries that call's identity (service, entrypoint, call id and stack); outside one it
is a call of its own: ``entrypoint_protocol`` ``"Standalone"``, ``entrypoint_name`` the
event type, and the configured service name (``EVENTLOG_SERVICE_NAME``).

The arguments are checked and encoded here, at the call site, before anything is
queued: a wrong type (or a dict subclass whose ``items()`` fails) is a ``TypeError``;
a ``ValueError`` is raised for a value JSON cannot hold exactly (NaN, infinity, a
cycle, an int longer than Python's digit limit), text that is not valid Unicode (a
lone surrogate), an event type that cannot be routed (over 255 UTF-8 bytes, or holding
a control character), and an event whose body (data, metadata and the call's identity)
would be larger than ``EVENTLOG_MAX_EVENT_BYTES``; each names where the value is. The
call's identity is bounded however the call came in (see
:mod:`eventlog_instrument.calls`), so a hostile incoming call stack cannot make an
event too large. A failure of the package's own after the checks is reported as
:mod:`eventlog_instrument.instrumentors.hooks` reports them, and never raised. The
caller's dicts are encoded, never kept or mutated. The event is a span that ends at
once, so it is exported without waiting for the surrounding call to finish; its
payload travels in the package's own record on the span, so OpenTelemetry span limits
never cut it.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any

from opentelemetry import trace

from eventlog_instrument import constants as c
from eventlog_instrument import runtime
from eventlog_instrument.calls import CallIdentity, current_call, new_call, start_call_span
from eventlog_instrument.instrumentors.hooks import report_failure
from eventlog_instrument.settings import DEFAULT_SERVICE_NAME, SETTINGS_BY_NAME

_tracer = trace.get_tracer("eventlog_instrument.events")


def dispatch_event(
    event_type: str,
    event_data: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Publish a log event of ``event_type`` with ``event_data`` and top-level ``metadata``."""
    record_event(current_call, event_type, event_data, metadata)


def record_event(
    call: Callable[[], CallIdentity | None],
    event_type: str,
    event_data: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    tracer: trace.Tracer | None = None,
    max_event_bytes: int | None = None,
) -> None:
    """Check the arguments, then end a manual event span for the call ``call()`` returns.

    ``call`` is only asked once the arguments passed their checks; when it returns
    ``None`` the event is a standalone call of its own. ``max_event_bytes`` defaults to
    the instrumentor's ``EVENTLOG_MAX_EVENT_BYTES``.
    """
    _check_event_type(event_type)
    encoded_data = encode_json_object("event_data", event_data)
    encoded_metadata = encode_json_object("metadata", metadata)
    try:
        identity = call() or _standalone_call(event_type)
    except Exception as error:
        report_failure("find the call of a manual event", error)
        return
    limit = max_event_bytes or _max_event_bytes()
    size = _body_size_bound(identity, event_type, encoded_data, encoded_metadata)
    if size > limit:
        raise ValueError(
            f"event {event_type!r} would be about {size:,} bytes of JSON, over "
            f"EVENTLOG_MAX_EVENT_BYTES={limit:,}: send less event_data or metadata"
        )
    try:
        reserved = identity.attributes()
        reserved[c.ATTR_EVENT_TYPE] = event_type
        reserved[c.ATTR_EVENT_DATA] = encoded_data
        reserved[c.ATTR_METADATA] = encoded_metadata
        start_call_span(tracer or _tracer, event_type, reserved).end()
    except Exception as error:
        report_failure("record a manual event", error)


MAX_EVENT_TYPE_BYTES = 255
"""An AMQP short string: the longest routing key or header value a broker takes."""


def _check_event_type(event_type: object) -> None:
    if not isinstance(event_type, str) or not event_type:
        raise TypeError(f"event_type must be a non-empty str, got {event_type!r}")
    if not event_type.isprintable():
        raise ValueError(
            f"event_type {event_type!r} holds a control or unprintable character; "
            "accepted: printable text"
        )
    size = len(_utf8("event_type", event_type))
    if size > MAX_EVENT_TYPE_BYTES:
        raise ValueError(
            f"event_type is {size} bytes of UTF-8; accepted: at most {MAX_EVENT_TYPE_BYTES}"
        )


def _utf8(name: str, text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{name} holds text that is not valid Unicode ({error.object[error.start]!r}, "
            "a lone surrogate, at character " + str(error.start) + " of its JSON); "
            "accepted: text that UTF-8 can encode"
        ) from None


_ENVELOPE_OVERHEAD = 160
"""Bytes of an envelope besides its values: key names, quotes, commas, the timestamp."""


def _body_size_bound(
    identity: CallIdentity, event_type: str, encoded_data: str, encoded_metadata: str
) -> int:
    """At least the size of the event's JSON body: metadata replaces identity keys at
    most, so counting both never undercounts."""
    identity_text = json.dumps(
        [identity.service_name, identity.entrypoint_protocol, identity.entrypoint_name,
         identity.call_id, identity.call_stack, event_type],
        ensure_ascii=False, separators=(",", ":"),
    )
    return (
        _ENVELOPE_OVERHEAD
        + len(identity_text.encode("utf-8", "surrogatepass"))
        + len(_utf8("event_data", encoded_data))
        + len(_utf8("metadata", encoded_metadata))
    )


_DEFAULT_MAX_EVENT_BYTES = int(SETTINGS_BY_NAME["max_event_bytes"].default)


def _max_event_bytes() -> int:
    settings = runtime.settings
    return settings.max_event_bytes if settings is not None else _DEFAULT_MAX_EVENT_BYTES


def encode_json_object(name: str, value: dict[str, Any] | None) -> str:
    """``value`` as a JSON object text; ``None`` and empty mean ``{}``.

    Raises ``TypeError`` naming where in ``name`` a value is not JSON data or a key is
    not text, and ``ValueError`` for NaN, infinity, a reference cycle or nesting deeper
    than ``MAX_DEPTH``.
    """
    if value is None:
        return "{}"
    if not isinstance(value, dict):
        raise TypeError(
            f"{name} must be a dict of JSON-serialisable data or None, "
            f"got {type(value).__name__}"
        )
    _check_json(value, name, set())
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_JSON_SCALARS = (str, int, bool, type(None))
MAX_DEPTH = 100
"""Deepest nesting of dicts and lists accepted in event data and metadata."""


def _check_json(value: Any, path: str, containers: set[int]) -> None:
    """JSON has text keys only (json.dumps would merge 1 and "1"), no NaN, no cycles."""
    if len(containers) > MAX_DEPTH:
        raise ValueError(f"{path.split('[')[0]} is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, _JSON_SCALARS):
        if isinstance(value, int) and value.bit_length() > _SURELY_PRINTABLE_INT_BITS:
            _check_int_digits(value, path)
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path} is {value!r}, which JSON cannot hold")
        return
    if not isinstance(value, (dict, list, tuple)):
        raise TypeError(
            f"{path} is of type {type(value).__name__}, which is not JSON-serialisable "
            "(accepted: dict, list, tuple, str, int, float, bool, None)"
        )
    if id(value) in containers:
        raise ValueError(f"{path} refers back to a container that holds it (a cycle)")
    containers.add(id(value))
    if isinstance(value, dict):
        for key, child in _items(value, path):
            if not isinstance(key, str):
                raise TypeError(
                    f"{path} has the key {key!r} of type {type(key).__name__}; "
                    "JSON keys must be str"
                )
            _check_json(child, f"{path}[{key!r}]", containers)
    else:
        for index, child in enumerate(value):
            _check_json(child, f"{path}[{index}]", containers)
    containers.discard(id(value))


_SURELY_PRINTABLE_INT_BITS = 2_000
"""An int of at most this many bits has under 610 digits: below any digit limit Python
accepts (``sys.set_int_max_str_digits`` takes 640 and up, or 0 for none)."""


def _check_int_digits(value: int, path: str) -> None:
    """JSON writes an int in decimal, which Python refuses past its digit limit."""
    try:
        int.__repr__(value)
    except ValueError:
        raise ValueError(
            f"{path} is an int of more than {sys.get_int_max_str_digits():,} digits, which "
            "Python will not write as decimal text; accepted: ints within that limit "
            "(send a bigger number as a str)"
        ) from None


def _items(value: dict[Any, Any], path: str) -> list[tuple[Any, Any]]:
    """The items of a dict, or of a dict subclass (whose ``items()`` may be its own)."""
    try:
        return list(value.items())
    except Exception as error:
        raise TypeError(
            f"{path} is a {type(value).__name__} whose items() raised "
            f"{type(error).__name__}; accepted: a dict whose items can be read"
        ) from None


def _standalone_call(event_type: str) -> CallIdentity:
    settings = runtime.settings
    if settings is not None:
        service_name = settings.service_name
    else:
        resource = getattr(trace.get_tracer_provider(), "resource", None)
        service_name = DEFAULT_SERVICE_NAME
        if resource is not None:
            service_name = str(resource.attributes.get("service.name", service_name))
    return new_call(service_name, c.STANDALONE_PROTOCOL, event_type)
