"""The bulk confirm reader decodes acks as py-amqp would and hands it every other frame.

Frames are written by py-amqp's own ``frame_writer`` into one end of a socket pair;
the reader reads the other end through a connection shaped as py-amqp's. Then the
exporter against the real RabbitMQ, through a proxy that ends TLS and hands the
broker's bytes over in pieces of a few bytes, with a full queue making the broker nack.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
from types import SimpleNamespace

import pytest
from amqp import spec
from amqp.method_framing import frame_writer
from amqp.serialization import dumps

from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.exporters.amqp_confirms import UnreadableFrame, await_confirms
from eventlog_instrument.settings import load_settings
from tests.support.brokers import BoundQueue
from tests.support.tcpproxy import TcpProxy

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
        self.frame_max = 131072
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


def test_py_amqp_reading_on_while_it_handles_a_frame_gets_the_bytes_that_follow(sockets):
    """py-amqp reopens a channel the broker closed, reading the next frames itself."""
    ours, broker = sockets
    unconfirmed = {1, 2}
    connection = FakeConnection(ours)
    read_by_py_amqp = []

    def on_inbound_frame(frame):
        transport = connection.transport
        read_by_py_amqp.append(transport._read_buffer[: len(HEARTBEAT)])
        transport._read_buffer = transport._read_buffer[len(HEARTBEAT):]

    connection.on_inbound_frame = on_inbound_frame
    broker.sendall(ack(1) + nack(2) + HEARTBEAT + ack(2))
    await_confirms(connection, CHANNEL, lambda tag, _m: unconfirmed.discard(tag), unconfirmed,
                   time.monotonic() + 5)
    assert read_by_py_amqp == [HEARTBEAT]
    assert not unconfirmed and connection.transport._read_buffer == b""


def test_the_brokers_reason_survives_py_amqp_closing_the_socket(sockets):
    ours, broker = sockets
    connection = FakeConnection(ours)

    def close_and_raise(frame):
        ours.close()  # as py-amqp does when the broker closes the connection
        raise RuntimeError("(320) CONNECTION_FORCED - broker shutdown")

    connection.on_inbound_frame = close_and_raise
    broker.sendall(HEARTBEAT)
    with pytest.raises(RuntimeError, match="CONNECTION_FORCED"):
        await_confirms(connection, CHANNEL, lambda tag, _m: None, {1}, time.monotonic() + 5)


def test_a_frame_announced_over_frame_max_ends_the_read_at_once(sockets):
    ours, broker = sockets
    broker.sendall(b"\x03\x00\x01\xff\xff\xff\xf0" + b"x" * 100)
    with pytest.raises(UnreadableFrame, match="over frame_max 131072"):  # not TimeoutError
        await_confirms(FakeConnection(ours), CHANNEL, lambda tag, _m: None, {1},
                       time.monotonic() + 60)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
         cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize(("tls", "split"), [(False, 9), (True, 0), (True, 9)],
                         ids=["plain-in-pieces", "tls", "tls-in-pieces"])
def test_every_event_is_confirmed_or_handed_back_once_through_tls_and_pieces(
    rabbitmq, service_name, certificate, tls, split
):
    context = None
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
    full = BoundQueue(service_name, max_length=200)
    events = [
        Event(service_name, f"{service_name}.m.{number}", (f"{service_name}.m.{number}",),
              "entrypoint_fired", None, {}, json.dumps({"n": number, "pad": "x" * (number % 700)}).encode())
        for number in range(900)
    ]
    with TcpProxy("127.0.0.1", 5672, server_context=context, split_to_client=split) as proxy:
        scheme, files = ("amqps", {"amqp_ssl_ca": certificate[0]}) if tls else ("amqp", {})
        exporter = AmqpEventExporter(load_settings(
            {}, amqp_uri=f"{scheme}://guest:guest@127.0.0.1:{proxy.port}//", **files
        ))
        handed_back = []
        for start in range(0, len(events), 300):
            handed_back += exporter.deliver(events[start : start + 300], 30)
        assert exporter.last_error == ""
        exporter.shutdown()
    queued = [json.loads(message.body)["n"] for message in full.read(200)]
    full.close()
    assert len(queued) == 200 and exporter.nacks == 700
    assert sorted(queued + [json.loads(event.body)["n"] for event in handed_back]) == list(range(900))
