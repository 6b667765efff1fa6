"""The bulk confirm reader decodes acks as py-amqp would and hands it every other frame.

Frames are written by py-amqp's own ``frame_writer`` into one end of a socket pair;
the reader reads the other end through a connection shaped as py-amqp's.
"""

from __future__ import annotations

import socket
import time
from types import SimpleNamespace

import pytest
from amqp import spec
from amqp.method_framing import frame_writer
from amqp.serialization import dumps

from eventlog_instrument.exporters.amqp_confirms import UnreadableFrame, await_confirms

CHANNEL = 1


class _Recorder:
    frame_max = 131072
    bytes_sent = 0

    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data


def frame_bytes(channel: int, method: tuple[int, int], args: bytes) -> bytes:
    recorder = _Recorder()
    frame_writer(recorder, recorder)(1, channel, method, args, None)
    return bytes(recorder.written)


def ack(tag: int, multiple: bool = False, channel: int = CHANNEL) -> bytes:
    return frame_bytes(channel, spec.Basic.Ack, dumps("Lb", (tag, multiple)))


def nack(tag: int) -> bytes:
    return frame_bytes(CHANNEL, spec.Basic.Nack, dumps("Lbb", (tag, False, True)))


HEARTBEAT = b"\x08\x00\x00\x00\x00\x00\x00\xce"


class FakeConnection:
    """What the reader uses of a py-amqp connection; other frames are recorded, and the
    frame types in ``raise_on`` raise as py-amqp does for a closed channel."""

    def __init__(self, sock: socket.socket, read_buffer: bytes = b"", raise_on=()) -> None:
        self.transport = SimpleNamespace(sock=sock, _read_buffer=read_buffer)
        self.bytes_recv = 0
        self.handed_over: list[tuple[int, int, bytes]] = []
        self._raise_on = raise_on

    def on_inbound_frame(self, frame: tuple[int, int, bytes]) -> None:
        self.handed_over.append(frame)
        if frame[0] in self._raise_on:
            raise RuntimeError("channel closed by the broker")


@pytest.fixture
def sockets():
    ours, broker = socket.socketpair()
    ours.settimeout(7.0)
    yield ours, broker
    ours.close()
    broker.close()


def test_acks_in_py_amqps_buffer_and_split_across_reads_are_all_read(sockets):
    ours, broker = sockets
    unconfirmed = {tag: f"event {tag}" for tag in range(1, 7)}
    acked = []

    def on_ack(tag, multiple):
        acked.append((tag, multiple))
        if multiple:
            for done in [t for t in unconfirmed if t <= tag]:
                del unconfirmed[done]
        else:
            del unconfirmed[tag]

    stream = ack(1) + ack(2) + ack(4, multiple=True) + ack(5) + ack(6) + ack(7)[:10]
    connection = FakeConnection(ours, read_buffer=stream[:30])
    broker.sendall(stream[30:50])
    broker.sendall(stream[50:])
    await_confirms(connection, CHANNEL, on_ack, unconfirmed, time.monotonic() + 5)
    assert acked == [(1, False), (2, False), (4, True), (5, False), (6, False)]
    assert connection.bytes_recv == 5
    assert connection.transport._read_buffer == ack(7)[:10], "a frame begun stays for py-amqp"
    assert ours.gettimeout() == 7.0


def test_other_frames_go_to_py_amqp_in_order(sockets):
    ours, broker = sockets
    unconfirmed = {1, 2}
    order = []
    connection = FakeConnection(ours)
    connection.on_inbound_frame = lambda frame: order.append(("py-amqp", frame[0], frame[1]))

    def on_ack(tag, _multiple):
        order.append(("ack", tag))
        unconfirmed.discard(tag)

    broker.sendall(ack(1) + HEARTBEAT + ack(1, channel=2) + nack(2) + ack(2))
    await_confirms(connection, CHANNEL, on_ack, unconfirmed, time.monotonic() + 5)
    assert order == [("ack", 1), ("py-amqp", 8, 0), ("py-amqp", 1, 2), ("py-amqp", 1, 1), ("ack", 2)]


def test_a_frame_that_raises_in_py_amqp_is_read_once_and_the_rest_kept(sockets):
    ours, broker = sockets
    unconfirmed = {1, 2}
    connection = FakeConnection(ours, raise_on={8})
    broker.sendall(ack(1) + HEARTBEAT + ack(2))
    with pytest.raises(RuntimeError, match="channel closed"):
        await_confirms(connection, CHANNEL, lambda tag, _m: unconfirmed.discard(tag), unconfirmed,
                       time.monotonic() + 5)
    assert unconfirmed == {2}
    assert connection.handed_over == [(8, 0, b"")]
    assert connection.transport._read_buffer == ack(2)


def test_no_confirm_in_time_raises_timeout_and_restores_the_socket(sockets):
    ours, broker = sockets
    connection = FakeConnection(ours)
    broker.sendall(ack(1)[:5])
    with pytest.raises(TimeoutError):
        await_confirms(connection, CHANNEL, lambda tag, _m: None, {1}, time.monotonic() + 0.2)
    assert ours.gettimeout() == 7.0
    assert connection.transport._read_buffer == ack(1)[:5]


def test_a_closed_connection_and_a_frame_without_its_end_are_connection_errors(sockets):
    ours, broker = sockets
    broker.sendall(ack(1)[:-1] + b"\x00")
    with pytest.raises(UnreadableFrame, match="without its end octet"):
        await_confirms(FakeConnection(ours), CHANNEL, lambda tag, _m: None, {1},
                       time.monotonic() + 5)
    broker.close()
    with pytest.raises(ConnectionError, match="closed the connection"):
        await_confirms(FakeConnection(ours), CHANNEL, lambda tag, _m: None, {1},
                       time.monotonic() + 5)
