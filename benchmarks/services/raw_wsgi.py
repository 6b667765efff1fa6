"""Requests straight into a WSGI application's callable, as the benchmarks' measured
programs make them: no server, no socket, only the framework and what instruments it."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any


def requester(app: Any, path: str, expect: str | None = None) -> Callable[[], None]:
    """A function making one ``GET path`` of ``app`` and reading its whole body; with
    ``expect``, a different status stops the program."""
    template = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "bench",
        "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": False, "wsgi.run_once": False, "HTTP_HOST": "bench",
    }

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
        if expect is not None and status != expect:
            raise AssertionError(status)

    def one_request() -> None:
        response = app(dict(template), start_response)
        for _ in response:
            pass
        getattr(response, "close", lambda: None)()

    return one_request
