"""A loopback TCP proxy that can hang: connections stay open but nothing is forwarded,
as a broker that stopped reading mid-stream (a write then blocks and times out)."""

from __future__ import annotations

import contextlib
import socket
import threading


class HungProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target`` until :meth:`hang`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._forwarding = threading.Event()
        self._forwarding.set()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def hang(self) -> None:
        """Stop forwarding in both directions; connections stay open."""
        self._forwarding.clear()

    def close(self) -> None:
        """Drop every connection (a hung proxy's threads end with them)."""
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._forwarding.set()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                return
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                self._forwarding.wait()
                data = source.recv(65536)
                if not data:
                    return
                self._forwarding.wait()
                sink.sendall(data)
