"""What the Nameko instrumentor and the drop-in ``EventLogDispatcher`` both read of a
Nameko service: its config, its ``EVENTLOG_DISPATCHER`` section and a worker's call.

The instrumentor must know a service that declares the drop-in (that service keeps the
drop-in's capture rules) without importing it: the drop-in imports Nameko's entrypoint
classes at import time, so the dispatcher class carries :data:`DROP_IN_MARKER` instead.
"""

from __future__ import annotations

from typing import Any

from eventlog_instrument.calls import CallIdentity

DISPATCHER_CONFIG_KEY = "EVENTLOG_DISPATCHER"
"""nameko-eventlog-dispatcher's config section: ``auto_capture``,
``entrypoints_to_exclude``, ``event_type``."""
CALL_ID_STACK_CONTEXT_KEY = "call_id_stack"
"""Nameko's context data key for the call stack (``nameko.call_id_stack`` on the wire)."""
DROP_IN_MARKER = "is_eventlog_drop_in_dispatcher"
"""Class attribute, true on the drop-in dispatcher."""


def nameko_config(container: Any) -> Any:
    """The service's config: ``nameko.config`` in Nameko 3, ``container.config`` in Nameko 2."""
    import nameko

    return getattr(nameko, "config", None) or container.config


def dispatcher_config(container: Any) -> dict[str, Any]:
    """The service's ``EVENTLOG_DISPATCHER`` section, empty when it has none."""
    return nameko_config(container).get(DISPATCHER_CONFIG_KEY) or {}


def worker_call(worker_ctx: Any, routing_key: str | None) -> CallIdentity:
    """The identity of a Nameko worker's call: Nameko's own call id and stack."""
    entrypoint = worker_ctx.entrypoint
    return CallIdentity(
        worker_ctx.service_name,
        type(entrypoint).__name__,
        entrypoint.method_name,
        worker_ctx.call_id,
        tuple(worker_ctx.call_id_stack),
        routing_key,
    )


def declares_drop_in(container: Any) -> bool:
    """Whether the service declares the drop-in ``EventLogDispatcher``."""
    return any(getattr(dependency, DROP_IN_MARKER, False) for dependency in container.dependencies)
