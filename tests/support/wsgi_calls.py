"""Calling a WSGI application in process as a server does: a hand-built environ, the
body read and closed; and the same call with instrumentation suppressed."""

from __future__ import annotations

import io
import sys
from typing import Any

from opentelemetry import context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY


def environ(method: str, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    built = {
        # a WSGI server hands the path's UTF-8 bytes over as latin-1 text
        "REQUEST_METHOD": method, "PATH_INFO": path.encode().decode("latin-1"), "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "HTTP_HOST": "testserver",
    }
    for name, value in (headers or {}).items():
        built["HTTP_" + name.upper().replace("-", "_")] = value
    return built


def serve(
    app: Any, method: str, path: str, headers: dict[str, str] | None = None, **extra: Any
) -> tuple[str, list, bytes]:
    """Status, headers and body; ``extra`` environ keys (``wsgi.file_wrapper``) added."""
    status, response_headers, body, _ = serve_returning(app, method, path, headers, **extra)
    return status, response_headers, body


def serve_returning(
    app: Any, method: str, path: str, headers: dict[str, str] | None = None, **extra: Any
) -> tuple[str, list, bytes, Any]:
    """As :func:`serve`, with the object the application returned."""
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list, exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = status, response_headers

    built = environ(method, path, headers)
    built.update(extra)
    response = app(built, start_response)
    try:
        body = b"".join(response)
    finally:
        response.close()
    return answer["status"], answer["headers"], body, response


def serve_uninstrumented(
    app: Any, method: str, path: str, headers: dict[str, str] | None = None, **extra: Any
) -> tuple[str, list, bytes, Any]:
    """As :func:`serve_returning`, with instrumentation suppressed: the bare answer."""
    token = context.attach(context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        return serve_returning(app, method, path, headers, **extra)
    finally:
        context.detach(token)
