"""A loopback TCP proxy the tests control, to simulate broker outages (never stop RabbitMQ):
:meth:`TcpProxy.cut` drops the connections, :meth:`TcpProxy.hang` keeps them open and
forwards nothing, as a broker that stopped reading mid-stream (a write then times out).
It can also end TLS for the broker (``server_context``), and hand what the broker sends
to the client in pieces of at most ``split_to_client`` bytes, to test a client's reads."""

from __future__ import annotations

import contextlib
import random
import socket
import ssl
import threading
from types import TracebackType


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``; :meth:`cut` drops every connection."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        server_context: ssl.SSLContext | None = None,
        split_to_client: int = 0,
    ) -> None:
        self.target = (target_host, target_port)
        self._server_context = server_context
        self._split_to_client = split_to_client
        self._pieces = random.Random(split_to_client)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._accepting = True
        self._closed = False
        self._forwarding = threading.Event()
        self._forwarding.set()
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def cut(self) -> None:
        """Close every open connection and refuse new ones until :meth:`restore`."""
        with self._lock:
            self._accepting = False
            connections, self._connections = self._connections, []
        for connection in connections:
            _close(connection)

    def restore(self) -> None:
        with self._lock:
            self._accepting = True

    def hang(self) -> None:
        """Stop forwarding in both directions; connections stay open."""
        self._forwarding.clear()

    def close(self) -> None:
        self._closed = True
        self.cut()
        _close(self._listener)
        self._forwarding.set()

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                accepting = self._accepting
            if not accepting:
                _close(client)
                continue
            try:
                if self._server_context is not None:
                    client = self._server_context.wrap_socket(client, server_side=True)
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # pieces stay apart
            upstream.settimeout(None)
            with self._lock:
                self._connections += [client, upstream]
            for source, sink, split in ((client, upstream, 0), (upstream, client, self._split_to_client)):
                threading.Thread(target=self._pipe, args=(source, sink, split), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, split: int) -> None:
        try:
            while True:
                self._forwarding.wait()
                data = source.recv(65536)
                if not data:
                    break
                self._forwarding.wait()
                if not split:
                    sink.sendall(data)
                    continue
                start = 0
                while start < len(data):
                    end = start + self._pieces.randint(1, split)
                    sink.sendall(data[start:end])
                    start = end
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
