"""Names shared by every part of the package: envelope keys and reserved span attributes.

The envelope is the compatibility contract with nameko-eventlog-dispatcher consumers
(SPEC §2); its keys appear in the published JSON in the order they are listed here, with
metadata between ``CALL_STACK`` and ``TIMESTAMP``.
"""

from __future__ import annotations

from eventlog_instrument import TYPE_CHECKING

if TYPE_CHECKING:  # not imported at run time: the start-up hook imports this module
    from typing import Final

SERVICE_NAME: Final = "service_name"
"""The service that handled the call."""

ENTRYPOINT_PROTOCOL: Final = "entrypoint_protocol"
"""How the call arrived: Nameko's entrypoint class name, or a framework constant."""

ENTRYPOINT_NAME: Final = "entrypoint_name"
"""The method, view endpoint or task name that handled the call."""

CALL_ID: Final = "call_id"
"""This call's id, ``<service>.<entrypoint_name>.<uuid4>``."""

CALL_STACK: Final = "call_stack"
"""Call ids from the outermost caller down to this call, this call's id last."""

TIMESTAMP: Final = "timestamp"
"""UTC ISO 8601 time with a ``+00:00`` offset; metadata can never override it."""

EVENT_TYPE: Final = "event_type"
"""``entrypoint_fired`` or the caller's own event type; metadata can never override it."""

DATA: Final = "data"
"""A JSON object: the caller's event data, or what the span learned; never overridden."""

IDENTITY_KEYS: Final = (SERVICE_NAME, ENTRYPOINT_PROTOCOL, ENTRYPOINT_NAME, CALL_ID, CALL_STACK)
"""The envelope keys that come first and that metadata may override."""

PROTECTED_KEYS: Final = frozenset((TIMESTAMP, EVENT_TYPE, DATA))
"""The envelope keys that metadata may never override."""

ENTRYPOINT_FIRED: Final = "entrypoint_fired"
"""Event type of an auto-captured entrypoint."""

DEFAULT_EVENT_TYPE: Final = "log_event"
"""Nameko event type (AMQP routing key) that carries every envelope by default."""

CALL_STACK_LIMIT: Final = 11
"""Most call ids kept in a call stack: Nameko's ``parent_calls_tracked`` (10) plus this call."""

STANDALONE_PROTOCOL: Final = "Standalone"
"""``entrypoint_protocol`` of a manual event dispatched outside any instrumented call."""

FLASK_PROTOCOL: Final = "Flask"
"""``entrypoint_protocol`` of a Flask request."""

DJANGO_PROTOCOL: Final = "Django"
"""``entrypoint_protocol`` of a Django request."""

CELERY_PROTOCOL: Final = "CeleryTask"
"""``entrypoint_protocol`` of a Celery task run."""

CALL_STACK_HTTP_HEADER: Final = "X-Call-Stack"
"""HTTP request header with the caller's call stack: call ids, outermost first, comma-separated."""

CALL_ID_HTTP_HEADER: Final = "X-Call-Id"
"""HTTP response header carrying the call id of the request, for a client to quote."""

CALL_STACK_TASK_HEADER: Final = "eventlog_call_stack"
"""Celery task message header carrying the publisher's call stack (a list of call ids)."""

RESERVED_PREFIX: Final = "eventlog."
"""Namespace of the span attributes this package sets; they never become metadata."""

ATTR_SERVICE_NAME: Final = "eventlog.service_name"
"""Span attribute holding the envelope's ``service_name``."""

ATTR_ENTRYPOINT_PROTOCOL: Final = "eventlog.entrypoint_protocol"
"""Span attribute holding the envelope's ``entrypoint_protocol``."""

ATTR_ENTRYPOINT_NAME: Final = "eventlog.entrypoint_name"
"""Span attribute holding the envelope's ``entrypoint_name``."""

ATTR_CALL_ID: Final = "eventlog.call_id"
"""Span attribute holding the envelope's ``call_id``; its presence marks a call span."""

ATTR_CALL_STACK: Final = "eventlog.call_stack"
"""Span attribute holding the envelope's ``call_stack`` as a sequence of call ids."""

ATTR_EVENT_TYPE: Final = "eventlog.event_type"
"""Span attribute holding a manual event's type; its presence marks a manual event span."""

ATTR_EVENT_DATA: Final = "eventlog.event_data"
"""Span attribute holding a manual event's data, already encoded as a JSON object."""

ATTR_METADATA: Final = "eventlog.metadata"
"""Span attribute holding a manual event's metadata, already encoded as a JSON object."""

ATTR_AUTO_CAPTURE: Final = "eventlog.auto_capture"
"""Span attribute set to ``False`` on a call span whose ``entrypoint_fired`` is not wanted."""

ATTR_ROUTING_KEY: Final = "eventlog.routing_key"
"""Span attribute naming the call's own AMQP routing key (a Nameko service's event_type)."""

ATTR_DATA_PREFIX: Final = "eventlog.data."
"""Prefix of span attributes that instrumentors add to an auto-captured event's ``data``."""

EXPORTERS_ENTRY_POINT_GROUP: Final = "eventlog_instrument.exporters"
"""Entry-point group under which exporters (built-in and third-party) are registered."""

INSTRUMENTORS_ENTRY_POINT_GROUP: Final = "eventlog_instrument.instrumentors"
"""Entry-point group under which instrumentors (built-in and third-party) are registered."""
