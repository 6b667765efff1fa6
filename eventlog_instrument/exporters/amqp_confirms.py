"""Reading the broker's publisher confirms in bulk, for the ``amqp`` exporter.

RabbitMQ confirms most publishes one ``basic.ack`` frame each. py-amqp reads a frame
with three socket reads and dispatches it through its general method table, which was
a third of the exporter's time per event. :func:`await_confirms` reads whatever the
socket holds (up to 64 KiB at once) and decodes the ``basic.ack`` frames of the
publishing channel itself; every other frame (a nack, the broker closing a channel, a
heartbeat, a returned message) goes to py-amqp's own frame handler, in order, so it is
handled exactly as py-amqp would. py-amqp's read buffer is taken first and what is
left of it (bytes of a frame not yet complete) is handed back, whatever happens; while
py-amqp handles a frame it holds the bytes that follow, since it may read on (to reopen
a channel the broker closed). A frame announced over the connection's ``frame_max``
ends the connection at once instead of being awaited.

Frame layout (AMQP 0-9-1 §2.3.5, §4.2.6): type octet, channel short, payload size
long, payload, ``0xCE``; ``basic.ack`` (60, 80) carries a long-long delivery tag and a
bit, ``multiple``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sized
from struct import Struct
from typing import Any

_FRAME_HEAD = Struct(">BHI")
_HEAD_SIZE = _FRAME_HEAD.size
_FRAME_END = 0xCE
_METHOD = 1
_ACK_PAYLOAD = Struct(">HHQB")
_ACK_SIZE = _ACK_PAYLOAD.size
_ACK_SIGNATURE = b"\x00\x3c\x00\x50"
"""Class 60 (basic), method 80 (ack)."""
_READ_SIZE = 64 * 1024


class UnreadableFrame(ConnectionError):
    """The broker sent bytes that are not an AMQP frame; the connection is unusable."""


def await_confirms(
    connection: Any,
    channel_id: int,
    on_ack: Callable[[int, bool], None],
    unconfirmed: Sized,
    deadline: float,
) -> None:
    """Read frames from py-amqp ``connection`` until ``unconfirmed`` is empty.

    Acks of ``channel_id`` go to ``on_ack(delivery_tag, multiple)``, which is expected
    to shrink ``unconfirmed``; other frames to py-amqp. Raises ``TimeoutError`` past
    ``deadline`` (``time.monotonic``), ``UnreadableFrame``, and what py-amqp raises for
    a closed channel or connection.
    """
    transport = connection.transport
    sock = transport.sock
    frame_max = connection.frame_max
    buffer, transport._read_buffer = transport._read_buffer, b""
    offset = 0
    previous_timeout = sock.gettimeout()
    try:
        while True:
            end_of_data = len(buffer)
            while end_of_data - offset > _HEAD_SIZE:
                frame_type, channel, size = _FRAME_HEAD.unpack_from(buffer, offset)
                if size > frame_max:
                    raise UnreadableFrame(f"AMQP frame of {size} bytes over frame_max {frame_max}")
                start = offset + _HEAD_SIZE
                end = start + size
                if end >= end_of_data:
                    break
                if buffer[end] != _FRAME_END:
                    raise UnreadableFrame(f"AMQP frame without its end octet (type {frame_type})")
                offset = end + 1  # before handling it: a frame that raises is not read twice
                if (
                    frame_type == _METHOD
                    and channel == channel_id
                    and size == _ACK_SIZE
                    and buffer.startswith(_ACK_SIGNATURE, start)
                ):
                    _, _, delivery_tag, bits = _ACK_PAYLOAD.unpack_from(buffer, start)
                    connection.bytes_recv += 1  # what py-amqp's heartbeat check counts
                    on_ack(delivery_tag, bool(bits & 1))
                    continue
                # py-amqp may read on while it handles the frame (reopening a channel the
                # broker closed): it gets the bytes that follow, and keeps what it leaves.
                frame = (frame_type, channel, buffer[start:end])
                transport._read_buffer, buffer, offset = buffer[offset:], b"", 0
                connection.on_inbound_frame(frame)
                buffer, transport._read_buffer = transport._read_buffer, b""
                end_of_data = len(buffer)
            if not unconfirmed:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(unconfirmed)} publishes not confirmed in time")
            sock.settimeout(remaining)
            received = sock.recv(_READ_SIZE)
            if not received:
                raise ConnectionError("the broker closed the connection")
            buffer, offset = buffer[offset:] + received, 0
    finally:
        if buffer:
            transport._read_buffer = buffer[offset:] + transport._read_buffer
        if transport.sock is sock and sock.fileno() != -1:  # py-amqp closes it on a close
            sock.settimeout(previous_timeout)
