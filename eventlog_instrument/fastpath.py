"""The caches and shortcuts on the per-call path, in one place, each with its reason.

Every one of them is keyed by what it was computed from, so none can go stale while the
process runs: a new propagator, resource or second is simply a miss. :func:`reset`
empties them all, for tests that want to see a first call.

What a request costs is measured in ``benchmarks/flask_instructions.py``; a shortcut
here earns its place there.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate

from eventlog_instrument.calls import reserved_record
from eventlog_instrument.scrubbing import scrubber_for

if TYPE_CHECKING:
    from eventlog_instrument.settings import Settings

_propagator_fields: tuple[object, frozenset[str]] = (None, frozenset())
"""The global propagator last asked and its fields."""


def propagation_fields() -> frozenset[str]:
    """The carrier keys the global propagator reads (``traceparent``, ``b3``, ...).

    Asked once per propagator: a composite propagator builds new sets on every read of
    its ``fields``, about 1 µs a call.
    """
    global _propagator_fields
    propagator = propagate.get_global_textmap()
    seen, fields = _propagator_fields
    if propagator is not seen:
        fields = frozenset(propagator.fields)
        _propagator_fields = (propagator, fields)
    return fields


def environ_key(header: str) -> str:
    """The WSGI environ's key of request header ``header``: ``X-Call-Stack`` is
    ``HTTP_X_CALL_STACK``."""
    return "HTTP_" + header.upper().replace("-", "_")


@functools.lru_cache(maxsize=8)
def environ_keys(fields: frozenset[str]) -> tuple[tuple[str, str], ...]:
    """``(field, "HTTP_FIELD")`` for each propagation field.

    Cached: the same few fields are looked up on every request.
    """
    return tuple((field, environ_key(field)) for field in fields)


_last_resource: tuple[Any, str | None] = (None, None)
"""The last resource seen and its ``service.name``."""


def resource_service_name(resource: Any) -> str | None:
    """The ``service.name`` of a span's resource.

    Remembered for the last resource: every span of a provider shares one, and reading
    its attributes costs a mapping lookup per event.
    """
    global _last_resource
    seen, service_name = _last_resource
    if resource is not seen:
        name = resource.attributes.get("service.name")
        service_name = None if name is None else str(name)
        _last_resource = (resource, service_name)
    return service_name


_last_second: tuple[int | None, str] = (None, "")
"""The last whole second formatted, and its text."""
_UTC_OFFSET = "+00:00"


def format_timestamp(time_ns: int, precision: str = "seconds") -> str:
    """UTC ISO 8601 with ``+00:00``, truncated to ``precision``: ``2017-06-12T13:48:16+00:00``.

    The whole second's text is remembered for the last second: events come in bursts
    from the same second, and ``datetime`` formatting is the dearest part of a timestamp.
    """
    global _last_second
    seconds, remainder = divmod(time_ns, 1_000_000_000)
    cached_seconds, whole = _last_second
    if seconds != cached_seconds:
        moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
        whole = moment.isoformat(timespec="seconds")[: -len(_UTC_OFFSET)]
        _last_second = (seconds, whole)
    if precision == "seconds":
        return whole + _UTC_OFFSET
    if precision == "milliseconds":
        return f"{whole}.{remainder // 1_000_000:03d}{_UTC_OFFSET}"
    return f"{whole}.{remainder // 1000:06d}{_UTC_OFFSET}"


def attributes_of(span: Any) -> dict[str, Any]:
    """The ended span's attributes as a plain dict, with the package's own record
    (identity, manual payload, ``eventlog.data.*``: see :mod:`eventlog_instrument.calls`)
    merged in over them, so no span limit can cut it.

    The SDK's ``attributes`` is a read-only view whose copy calls Python code per key
    (1.3 µs of every request); an ended span's ``BoundedAttributes`` is immutable, so its
    own ``_dict`` is read when the SDK has one, and the view copied otherwise. The dict
    returned may be that one: do not change it.
    """
    own_dict = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(own_dict) is not dict:
        own_dict = dict(span.attributes or {})
    record = reserved_record(span)
    if record is None:
        return own_dict
    return {**own_dict, **record} if own_dict else record


_last_event_options: tuple[Any, dict[str, Any]] = (None, {})
"""The last settings an event was built with, and their options."""


def event_options(settings: Settings) -> dict[str, Any]:
    """The keyword options of ``build_event`` that ``settings`` give.

    Remembered for the last settings (one per processor, set at start-up): each
    setting read is a descriptor call, and the six of them cost every event 2 µs.
    """
    global _last_event_options
    seen, options = _last_event_options
    if settings is not seen:
        options = {
            "precision": settings.timestamp_precision,
            "default_service_name": settings.service_name,
            "max_value_length": settings.max_value_length,
            "max_event_bytes": settings.max_event_bytes,
            "scrubber": scrubber_for(settings.scrub_patterns),
        }
        _last_event_options = (settings, options)
    return options


def reset() -> None:
    """Forget everything cached here (tests)."""
    global _propagator_fields, _last_resource, _last_second, _last_event_options
    _propagator_fields = (None, frozenset())
    _last_resource = (None, None)
    _last_second = (None, "")
    _last_event_options = (None, {})
    environ_keys.cache_clear()
