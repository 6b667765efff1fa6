"""What the Nameko instrumentor and the drop-in ``EventLogDispatcher`` both read of a
Nameko service: its config, its ``EVENTLOG_DISPATCHER`` section and a worker's call.

The instrumentor must know a service that declares the drop-in (that service keeps the
drop-in's capture rules) without importing it: the drop-in imports Nameko's entrypoint
classes at import time, so the dispatcher class carries :data:`DROP_IN_MARKER` instead.
"""

from __future__ import annotations

from typing import Any

from eventlog_instrument.calls import CallIdentity, continued_stack, safe_call_id

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
    """The identity of a Nameko worker's call: Nameko's own call id and stack, under the
    bounding rules of :mod:`eventlog_instrument.calls`.

    The stack came in a message header from whoever published it: one that is not a
    list of valid call ids (a string, which Nameko would split into characters, an id
    holding CR/LF, spaces or commas, an over-long one) starts a fresh stack, and of a
    valid one the newest that fit the byte bound are kept, no more than Nameko's own
    ``PARENT_CALLS_TRACKED``. Nameko's ``worker_ctx`` itself is left as Nameko made it.
    """
    entrypoint = worker_ctx.entrypoint
    nameko_stack = worker_ctx.call_id_stack
    call_id = safe_call_id(worker_ctx.call_id)
    parents_tracked = len(nameko_stack) - 1
    parent_stack: tuple[str, ...] = ()
    if parents_tracked > 0:
        # what the message carried, before Nameko's deque made a string into characters
        incoming = getattr(worker_ctx, "_parent_call_id_stack", nameko_stack[:-1])
        parent_stack = continued_stack(incoming)[-parents_tracked:]
    return CallIdentity(
        worker_ctx.service_name,
        type(entrypoint).__name__,
        entrypoint.method_name,
        call_id,
        (*parent_stack, call_id),
        routing_key,
    )


def declares_drop_in(container: Any) -> bool:
    """Whether the service declares the drop-in ``EventLogDispatcher``."""
    return any(getattr(dependency, DROP_IN_MARKER, False) for dependency in container.dependencies)
