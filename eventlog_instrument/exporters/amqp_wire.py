"""The AMQP 0-9-1 frames of one ``basic.publish`` of an event, built in one pass.

py-amqp serialises every publish through general, table-driven Python: the method's
arguments, then each property, then the headers table, field by field. That was half
of the ``amqp`` exporter's time per event. Every event the exporter publishes has the
same shape: an exchange and routing key that repeat, four fixed properties
(``content_type``, ``content_encoding``, ``delivery_mode`` and the
``nameko.call_id_stack`` header) and a body. So the method frame is built once per
exchange and routing key, the properties from a constant prefix, and only the body
size, the call stack and the body are encoded per event.

Frame layout (AMQP 0-9-1 §2.3.5, §4.2.6): type octet, channel short, payload size
long, payload, ``0xCE``. Strings in the headers table are long strings (``S``), the
call stack an array (``A``), as py-amqp writes them; a test compares the bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from struct import Struct

_FRAME_HEAD = Struct(">BHI")
_METHOD_HEAD = Struct(">HHH")
"""Class id, method id, and the reserved short every ``basic.publish`` starts with."""
_FRAME_END = b"\xce"
_METHOD, _HEADER, _BODY = 1, 2, 3
_BASIC_CLASS = 60
_BASIC_PUBLISH = 40
_CONTENT_HEADER = Struct(">HHQH")
"""Class id, weight (always 0), body size, property flags."""
_PROPERTY_FLAGS = 0xF000
"""content-type, content-encoding, headers, delivery-mode: the first four Basic properties."""
_LONG = Struct(">I")
_FRAME_OVERHEAD = 8
"""Bytes around a frame's payload: its 7-byte head and the end octet."""


def short_string(text: str) -> bytes:
    """An AMQP short string: a length octet, then at most 255 bytes of UTF-8."""
    raw = text.encode("utf-8")
    if len(raw) > 255:
        raise ValueError(f"AMQP names are at most 255 bytes; {text[:60]!r}... has {len(raw)}")
    return bytes((len(raw),)) + raw


def publish_method_frame(channel_id: int, exchange: str, routing_key: str) -> bytes:
    """``basic.publish`` to ``exchange`` with ``routing_key``, neither mandatory nor immediate."""
    payload = b"".join((
        _METHOD_HEAD.pack(_BASIC_CLASS, _BASIC_PUBLISH, 0),
        short_string(exchange),
        short_string(routing_key),
        b"\x00",
    ))
    return _FRAME_HEAD.pack(_METHOD, channel_id, len(payload)) + payload + _FRAME_END


class EventContent:
    """Content frames (header, then body) of events with the exporter's fixed properties."""

    def __init__(
        self, content_type: str, content_encoding: str, stack_header: str, delivery_mode: int
    ) -> None:
        self._fixed_properties = short_string(content_type) + short_string(content_encoding)
        self._stack_field = short_string(stack_header) + b"A"
        self._delivery_mode = bytes((delivery_mode,))

    def frames(
        self, channel_id: int, body: bytes, call_stack: Sequence[str], frame_max: int
    ) -> list[bytes]:
        """The content header frame and as many body frames as ``frame_max`` requires."""
        pack_long = _LONG.pack
        items = b"".join(
            b"S" + pack_long(len(raw)) + raw for raw in (call_id.encode() for call_id in call_stack)
        )
        table = self._stack_field + pack_long(len(items)) + items
        header = b"".join((
            _CONTENT_HEADER.pack(_BASIC_CLASS, 0, len(body), _PROPERTY_FLAGS),
            self._fixed_properties,
            pack_long(len(table)),
            table,
            self._delivery_mode,
        ))
        frames = [_FRAME_HEAD.pack(_HEADER, channel_id, len(header)), header, _FRAME_END]
        chunk = frame_max - _FRAME_OVERHEAD
        for start in range(0, len(body), chunk):
            part = body[start : start + chunk]
            frames += (_FRAME_HEAD.pack(_BODY, channel_id, len(part)), part, _FRAME_END)
        return frames
