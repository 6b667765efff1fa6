"""Flask's ``send_file`` through the shared WSGI layer: the server's own
``wsgi.file_wrapper`` comes back (gunicorn sends it with ``sendfile()`` only then), and
the call ends when the server closes it."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, send_file
from gunicorn.http.wsgi import FileWrapper

from tests.support.wsgi_calls import serve_returning, serve_uninstrumented

SENT = Path(__file__).parent / "apps" / "djshop" / "download.txt"


def test_send_file_is_the_servers_own_file_wrapper_and_ends_the_call_when_closed(pipeline):
    app = Flask("files")
    app.add_url_rule("/download", "download", lambda: send_file(SENT))
    bare = serve_uninstrumented(app, "GET", "/download", **{"wsgi.file_wrapper": FileWrapper})
    memory = pipeline(service_name="flaskfiles")
    status, headers, body, returned = serve_returning(app, "GET", "/download", **{"wsgi.file_wrapper": FileWrapper})
    assert type(bare[3]) is FileWrapper and type(returned) is FileWrapper
    assert (status, body) == (bare[0], bare[2]) == ("200 OK", SENT.read_bytes())
    [event] = memory.wait_for(1)
    assert (event["entrypoint_name"], event["data"]["status_code"]) == ("download", 200)
    assert ("X-Call-Id", event["call_id"]) in headers
