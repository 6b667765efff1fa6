"""``amqp``: publishes envelopes to RabbitMQ in Nameko's event wire format (SPEC §3).

Each event goes to the durable topic exchange ``<service_name>.events`` with the
configured event type (``EVENTLOG_EVENT_TYPE``, default ``log_event``; a Nameko
service's ``EVENTLOG_DISPATCHER.event_type`` for its own events) as routing key,
so an unchanged Nameko ``@event_handler("<service>", "log_event")`` receives it. The
body is the envelope as JSON (``application/json``, ``utf-8``), persistent, with the
call stack in the ``nameko.call_id_stack`` header.

TLS: an ``amqps://`` URI, or ``EVENTLOG_AMQP_SSL_CA``/``_CERT``/``_KEY`` (PEM files; a
CA makes the broker's certificate required), are passed to kombu.

Publisher confirms are on and pipelined: a whole batch is published, then its acks
are awaited together (waiting for each confirm in turn is ten times slower, SPEC §8).
The connection is kombu's py-amqp transport (``amqp://``, ``amqps://``; kombu's virtual
transports have no publisher confirms). The publish frames are built by
:mod:`~eventlog_instrument.exporters.amqp_wire` and written 64 KiB at a time;
acks are read in bulk by :mod:`~eventlog_instrument.exporters.amqp_confirms`;
exchanges are declared (on a channel of their own, see
:mod:`~eventlog_instrument.exporters.amqp_exchanges`), and every other frame read,
through py-amqp itself. An event that is nacked, or unconfirmed or unsent when the connection
fails or the timeout passes, is handed back once to the pipeline, which retries it on a
new connection.

Events the broker can never take are dropped alone, not retried (see
:mod:`~eventlog_instrument.exporters.amqp_limits`): a name over AMQP's 255 bytes, or
an exchange the broker refuses to declare (``invalid``; one warning line, the declare
retried every 10 s), and a body over the broker's ``max_message_size`` (``refused``).
So that the channel RabbitMQ closes over such a body takes no other event with it, a
body over 64 KiB is published alone, after the events before it are confirmed.

``check(timeout)`` (``eventlog check``) connects as publishing does, TLS included.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Sequence
from typing import Any

from eventlog_instrument.drops import INVALID, REFUSED
from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters.amqp_confirms import await_confirms
from eventlog_instrument.exporters.amqp_exchanges import RETRY_DECLARE_AFTER, ExchangeDeclarer
from eventlog_instrument.exporters.amqp_limits import name_refusal, size_limit_in
from eventlog_instrument.exporters.amqp_wire import EventContent, publish_method_frame
from eventlog_instrument.exporters.base import EventExporter
from eventlog_instrument.masking import mask_uri, redact, unreachable
from eventlog_instrument.realthreads import GilSlices
from eventlog_instrument.settings import Settings

_logger = logging.getLogger(__name__)
CALL_ID_STACK_HEADER = "nameko.call_id_stack"
_PERSISTENT = 2
_CONTENT = EventContent("application/json", "utf-8", CALL_ID_STACK_HEADER, _PERSISTENT)
_WRITE_SIZE = 64 * 1024
"""Bytes of bodies gathered before one socket write."""
_PUBLISH_ALONE_ABOVE = _WRITE_SIZE
"""Bodies larger than this are published alone, so a channel closed over one takes no
other event with it."""


class AmqpEventExporter(EventExporter):
    """Publishes to ``<service_name>.events`` with pipelined publisher confirms."""

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.uri = self.settings.amqp_uri
        self.routing_key = self.settings.event_type
        self._timeout = self.settings.amqp_timeout
        self._connection: Any = None
        self._channel: Any = None
        self._next_tag = 1
        self._exchanges = ExchangeDeclarer()
        self._routes: dict[tuple[str, str], tuple[str, bytes, str]] = {}
        self._unconfirmed: dict[int, Event] = {}
        self._nacked: list[Event] = []
        self.nacks = 0
        """Publishes the broker refused (nacked) so far; each was handed back for a retry."""
        self.broker_max_size: int | None = None
        """The broker's ``max_message_size``, once a publish over it told us."""

    def deliver(self, events: Sequence[Event], timeout: float) -> list[Event]:
        deadline = time.monotonic() + timeout
        self._unconfirmed = {}
        self._nacked = []
        handled = 0
        try:
            channel = self._open_channel()
            slices = GilSlices()
            frame_max = channel.connection.frame_max
            frames: list[bytes] = []
            buffered = 0
            for event in events:
                slices.tick()
                exchange, method, refusal = self._route(channel.channel_id, event)
                if self._publishable(event, refusal):
                    alone = len(event.body) > _PUBLISH_ALONE_ABOVE
                    if alone:
                        self._write(frames)
                        frames, buffered = [], 0
                        self._await_confirms(deadline)
                    if self._exchange_refused(event, exchange):
                        handled += 1
                        continue
                    frames.append(method)
                    frames += _CONTENT.frames(
                        channel.channel_id, event.body, event.call_stack, frame_max
                    )
                    buffered += len(event.body)
                    self._unconfirmed[self._next_tag] = event
                    self._next_tag += 1
                # Handled once it is unconfirmed or refused: a failing write below must
                # not hand it back a second time as unsent.
                handled += 1
                if buffered >= _WRITE_SIZE:
                    self._write(frames)
                    frames, buffered = [], 0
            self._write(frames)
            self._await_confirms(deadline)
            self.last_error = ""
        except Exception as error:
            self._refuse_over_broker_limit(error)
            self._report_failure(error)
            self._discard_connection()
        return [*self._nacked, *self._unconfirmed.values(), *events[handled:]]

    def _route(self, channel_id: int, event: Event) -> tuple[str, bytes, str]:
        """``event``'s exchange, the ``basic.publish`` frame of that exchange and its
        routing key, and why the broker cannot route to them (``""`` when it can), each
        found once."""
        names = (event.service_name, event.routing_key or self.routing_key)
        route = self._routes.get(names)
        if route is None:
            exchange = f"{event.service_name}.events"
            refusal = name_refusal(exchange, names[1])
            method = b"" if refusal else publish_method_frame(channel_id, exchange, names[1])
            route = self._routes[names] = (exchange, method, refusal)
        return route

    def _publishable(self, event: Event, refusal: str) -> bool:
        """Whether the broker can take ``event``; if not, it is refused here."""
        if refusal:
            self.refuse(event, INVALID, refusal)
            return False
        limit = self.broker_max_size
        if limit is not None and len(event.body) > limit:
            self.refuse(event, REFUSED, f"{len(event.body)} bytes over the broker's {limit}")
            return False
        return True

    def _await_confirms(self, deadline: float) -> None:
        if self._unconfirmed:
            channel = self._channel
            await_confirms(
                channel.connection, channel.channel_id, self._on_ack, self._unconfirmed, deadline
            )

    def _refuse_over_broker_limit(self, error: Exception) -> None:
        """RabbitMQ closes the channel (406) over a message above ``max_message_size``."""
        limit = size_limit_in(error)
        if limit is None:
            return
        self.broker_max_size = limit
        for tag, event in list(self._unconfirmed.items()):
            if len(event.body) > limit:
                del self._unconfirmed[tag]
                self.refuse(event, REFUSED, f"{len(event.body)} bytes over the broker's {limit}")

    def _open_channel(self) -> Any:
        if self._channel is not None:
            if self._channel.is_open:
                return self._channel
            self._discard_connection()
        connection = self._connect(self._timeout)
        self._connection = connection
        channel = connection.channel()
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        self._channel = channel
        self._next_tag = 1
        self._exchanges.new_connection()
        self._routes = {}
        return channel

    def _connect(self, timeout: float) -> Any:
        import kombu

        connection = kombu.Connection(
            self.uri,
            connect_timeout=timeout,
            transport_options={"read_timeout": timeout, "write_timeout": timeout},
            ssl=self.ssl_options(),
        )
        connection.connect()
        return connection

    def check(self, timeout: float) -> str:
        """Connect as publishing would (TLS included) and leave: ``ok`` and the broker's
        masked URI, or a one-line ``ConnectionError``."""
        try:
            self._connect(timeout).release()
        except Exception as error:
            raise ConnectionError(unreachable(mask_uri(self.uri), error, self.uri)) from None
        return f"ok {mask_uri(self.uri)}"

    def _write(self, frames: list[bytes]) -> None:
        if frames:
            connection = self._channel.connection
            connection.transport.write(b"".join(frames))
            connection.bytes_sent += 1  # what py-amqp's heartbeat check counts

    def ssl_options(self) -> dict[str, Any] | bool:
        """kombu's ``ssl`` argument: TLS for ``amqps://`` or any ``EVENTLOG_AMQP_SSL_*``."""
        settings = self.settings
        files = {
            "ca_certs": settings.amqp_ssl_ca,
            "certfile": settings.amqp_ssl_cert,
            "keyfile": settings.amqp_ssl_key,
        }
        given: dict[str, Any] = {key: path for key, path in files.items() if path}
        if not given:
            return self.uri.startswith("amqps://")
        if "ca_certs" in given:
            given["cert_reqs"] = ssl.CERT_REQUIRED
        return given

    def _exchange_refused(self, event: Event, exchange: str) -> bool:
        """Whether ``exchange``, ``event``'s, cannot be declared; if so, it is refused."""
        detail, asked = self._exchanges.refusal(self._connection, exchange)
        if not detail:
            return False
        self.refuse(event, INVALID, detail)
        if asked:  # at most once per exchange every RETRY_DECLARE_AFTER seconds
            _logger.warning(
                "eventlog_instrument: amqp exporter cannot publish to %s (%s); its events "
                "are dropped as invalid, the declare is retried every %.0f s",
                mask_uri(self.uri), redact(detail, self.uri), RETRY_DECLARE_AFTER,
            )
        return True

    def _confirmed_tags(self, delivery_tag: int, multiple: bool) -> list[int]:
        if not multiple:
            return [delivery_tag] if delivery_tag in self._unconfirmed else []
        confirmed = []
        for tag in self._unconfirmed:  # in publish order, so the confirmed ones come first
            if tag > delivery_tag:
                break
            confirmed.append(tag)
        return confirmed

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if not multiple:
            self._unconfirmed.pop(delivery_tag, None)
            return
        for tag in self._confirmed_tags(delivery_tag, multiple):
            del self._unconfirmed[tag]

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        for tag in self._confirmed_tags(delivery_tag, multiple):
            self._nacked.append(self._unconfirmed.pop(tag))
            self.nacks += 1

    def _report_failure(self, error: Exception) -> None:
        self.last_error = f"{type(error).__name__}: {redact(str(error), self.uri)}"
        if not self.failure_log_due():
            return
        _logger.warning(
            "eventlog_instrument: amqp exporter cannot publish to %s (%s: %s); "
            "events are kept and retried",
            mask_uri(self.uri), type(error).__name__, redact(str(error), self.uri)
        )

    def _discard_connection(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.collect()
            except Exception:
                _logger.debug("closing a failed AMQP connection failed", exc_info=True)

    def after_fork(self) -> None:
        self._connection = None
        self._channel = None

    def shutdown(self) -> None:
        self.shutdown_within(self._timeout)

    def shutdown_within(self, seconds: float) -> None:
        """Close the connection politely when the broker has ``amqp_timeout`` to answer,
        else just drop it."""
        if seconds < self._timeout:
            self._discard_connection()
            return
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:
                _logger.debug("closing the AMQP connection failed", exc_info=True)
