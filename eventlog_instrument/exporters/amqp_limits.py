"""What RabbitMQ can never take, so the ``amqp`` exporter refuses it alone instead of
retrying it: an exchange name or routing key over AMQP's 255 bytes, and a body over
the broker's ``max_message_size``, learned from the 406 PRECONDITION_FAILED with
which RabbitMQ closes the channel over such a message."""

from __future__ import annotations

import re

AMQP_NAME_MAX = 255
"""Bytes of an AMQP short string: exchange names and routing keys."""
_SIZE_REFUSAL = re.compile(r"message size (\d+) is larger than configured max size (\d+)")


def name_refusal(exchange: str, routing_key: str) -> str:
    """Why the broker cannot route to ``exchange`` with ``routing_key``; ``""`` if it can."""
    for what, name in (("exchange", exchange), ("routing key", routing_key)):
        size = len(name.encode("utf-8"))
        if size > AMQP_NAME_MAX:
            return f"AMQP {what} name of {size} bytes (at most {AMQP_NAME_MAX})"
    return ""


def size_limit_in(error: Exception) -> int | None:
    """The broker's ``max_message_size`` when ``error`` is its refusal of a larger body."""
    found = _SIZE_REFUSAL.search(str(error))
    if found is None or getattr(error, "code", None) != 406:
        return None
    return int(found.group(2))
