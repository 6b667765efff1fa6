"""Call identities: call ids, call stacks, and the call spans instrumentors start.

A call span carries its envelope identity in reserved ``eventlog.*`` attributes, so
that a manual event dispatched inside the call, and the exporter building the
``entrypoint_fired`` event, both read it from the span.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections import deque
from collections.abc import Sequence
from typing import Any, NamedTuple

from opentelemetry import trace

from eventlog_instrument import constants as c
from eventlog_instrument import realthreads


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
        attributes: dict[str, Any] = {
            c.ATTR_SERVICE_NAME: self.service_name,
            c.ATTR_ENTRYPOINT_PROTOCOL: self.entrypoint_protocol,
            c.ATTR_ENTRYPOINT_NAME: self.entrypoint_name,
            c.ATTR_CALL_ID: self.call_id,
            c.ATTR_CALL_STACK: self.call_stack,
        }
        if self.routing_key is not None:
            attributes[c.ATTR_ROUTING_KEY] = self.routing_key
        return attributes


def new_call_id(service_name: str, entrypoint_name: str) -> str:
    """``<service>.<entrypoint_name>.<uuid4>``, the form Nameko gives its call ids.

    The uuid comes from ``random`` rather than ``os.urandom``: a call id names a call,
    it guards nothing, and this is twice as fast on every request. ``random`` reseeds
    itself in a forked child, so workers never repeat each other's ids. The uuid's text
    is formatted here, which costs half of building a ``uuid.UUID``.
    """
    digits = "%032x" % (random.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET)
    return (
        f"{service_name}.{entrypoint_name}."
        f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
    )


_UUID4_CLEAR = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
"""Clears the version and variant bits of 128 random bits."""
_UUID4_SET = (0x4 << 76) | (0x2 << 62)
"""Version 4, variant RFC 4122."""


def extend_call_stack(parent_stack: Sequence[str], call_id: str) -> tuple[str, ...]:
    """The parent's stack with ``call_id`` appended, keeping the newest ``CALL_STACK_LIMIT``."""
    stack = (*parent_stack, call_id)
    return stack[-c.CALL_STACK_LIMIT :]


_MAX_CALL_ID_LENGTH = 512


def parse_call_stack(text: str | None) -> tuple[str, ...]:
    """The call ids of an incoming ``X-Call-Stack`` header; ``()`` when absent or malformed.

    A malformed header (an empty, over-long or space-holding call id) starts a fresh
    stack rather than failing the request.
    """
    if not text:
        return ()
    stack = tuple(part.strip() for part in text.split(","))
    for call_id in stack:
        if not call_id or len(call_id) > _MAX_CALL_ID_LENGTH or not call_id.isprintable() or (
            " " in call_id
        ):
            return ()
    return stack[-(c.CALL_STACK_LIMIT - 1) :]


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


def current_call() -> CallIdentity | None:
    """The identity of the instrumented call whose span is current, if any."""
    attributes = getattr(trace.get_current_span(), "attributes", None)
    if not attributes or c.ATTR_CALL_ID not in attributes:
        return None
    return CallIdentity(
        str(attributes[c.ATTR_SERVICE_NAME]),
        str(attributes[c.ATTR_ENTRYPOINT_PROTOCOL]),
        str(attributes[c.ATTR_ENTRYPOINT_NAME]),
        str(attributes[c.ATTR_CALL_ID]),
        tuple(attributes[c.ATTR_CALL_STACK]),
        attributes.get(c.ATTR_ROUTING_KEY),
    )


class OpenCalls:
    """How many instrumented calls have started and not ended, across threads.

    On SIGTERM the start-up hook waits (boundedly) for these before it flushes: a WSGI
    server ends a request's span when it closes the response, just after the client
    already has it, so a flush at that moment would miss the request's event. A deque's
    append and pop are atomic, so counting needs no lock on every request.
    """

    def __init__(self) -> None:
        self._open: deque[None] = deque()

    def started(self) -> None:
        self._open.append(None)

    def ended(self) -> None:
        with contextlib.suppress(IndexError):
            self._open.pop()

    def wait_until_none(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._open:
            if time.monotonic() >= deadline:
                return False
            realthreads.pause(0.005)
        return True


open_calls = OpenCalls()
