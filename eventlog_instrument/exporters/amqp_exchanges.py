"""Declaring the ``<service>.events`` exchanges of the ``amqp`` exporter, on a channel
of their own.

A declare the broker refuses at channel level (406 PRECONDITION_FAILED: the exchange
exists with another type or other arguments; 403 ACCESS_REFUSED) closes only the
declaring channel: the publishing channel, its publishes and their confirms go on.
The refusal is remembered for :data:`RETRY_DECLARE_AFTER` seconds, during which that
exchange's events are refused at once (``invalid``, with the broker's words) without
asking the broker again; after that the next event declares it again, so an operator
who fixes the exchange is seen without a restart.
"""

from __future__ import annotations

import time
from typing import Any

RETRY_DECLARE_AFTER = 10.0
"""Seconds a refused declare is remembered before the exchange is declared again."""


class ExchangeDeclarer:
    """Declares durable topic exchanges once per connection; remembers refusals."""

    def __init__(self) -> None:
        self._channel: Any = None
        self._declared: set[str] = set()
        self._refused: dict[str, tuple[float, str]] = {}
        """Exchange name: when the broker refused its declare, and its words."""

    def new_connection(self) -> None:
        """Forget the channel and what was declared: a new connection declares again."""
        self._channel = None
        self._declared = set()

    def refusal(self, connection: Any, exchange: str) -> tuple[str, bool]:
        """Declare ``exchange`` unless done on this connection. Returns the broker's
        words refusing it (``""`` when the exchange is there) and whether the broker
        was asked just now; raises for an outage, which is not a refusal."""
        if exchange in self._declared:
            return "", False
        refused = self._refused.get(exchange)
        if refused is not None and time.monotonic() - refused[0] < RETRY_DECLARE_AFTER:
            return refused[1], False
        from amqp.exceptions import ChannelError

        if self._channel is None:
            self._channel = connection.channel()
        try:
            # py-amqp reopens a channel the broker closed, so it stays usable here.
            self._channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        except ChannelError as error:
            detail = f"declaring exchange {exchange!r}: {error}"
            self._refused[exchange] = (time.monotonic(), detail)
            return detail, True
        self._refused.pop(exchange, None)
        self._declared.add(exchange)
        return "", True
