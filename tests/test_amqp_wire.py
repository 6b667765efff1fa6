"""The exporter's own publish frames are byte for byte the frames py-amqp writes."""

from __future__ import annotations

import pytest
from amqp import spec
from amqp.basic_message import Message
from amqp.method_framing import frame_writer
from amqp.serialization import dumps

from eventlog_instrument.exporters.amqp_wire import (
    EventContent,
    publish_method_frame,
    short_string,
)


class _Recorder:
    def __init__(self, frame_max: int) -> None:
        self.frame_max = frame_max
        self.bytes_sent = 0
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data


def py_amqp_publish(channel_id, exchange, routing_key, body, call_stack, frame_max):
    recorder = _Recorder(frame_max)
    write_frame = frame_writer(recorder, recorder)
    message = Message(
        body, content_type="application/json", content_encoding="utf-8",
        application_headers={"nameko.call_id_stack": list(call_stack)}, delivery_mode=2,
    )
    args = dumps("Bssbb", (0, exchange, routing_key, False, False))
    write_frame(1, channel_id, spec.Basic.Publish, args, message)
    return bytes(recorder.written)


@pytest.mark.parametrize(
    ("body", "call_stack", "frame_max"),
    [
        (b'{"event_type":"entrypoint_fired"}', ["gateway.checkout.1", "orders.place_order.2"], 131072),
        ("{\"note\":\"caf\u00e9 \u2603\"}".encode(), ["s\u00e9rvice.m\u00e9thod.3"], 131072),
        (b"x" * 10_000, ["a.b.c"] * 11, 4096),
        (b"y" * 8188, ["a.b.c"], 4096),
    ],
    ids=["small", "unicode", "split-into-three-body-frames", "exactly-one-frame"],
)
def test_frames_equal_py_amqps(body, call_stack, frame_max):
    content = EventContent("application/json", "utf-8", "nameko.call_id_stack", 2)
    ours = publish_method_frame(7, "orders.events", "log_event") + b"".join(
        content.frames(7, body, call_stack, frame_max)
    )
    assert ours == py_amqp_publish(7, "orders.events", "log_event", body, call_stack, frame_max)


def test_names_longer_than_an_amqp_short_string_are_refused_by_name():
    with pytest.raises(ValueError, match=r"AMQP names are at most 255 bytes; 'xxx.*has 300"):
        short_string("x" * 300)
