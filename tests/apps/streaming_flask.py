"""A Flask app with no instrumentation code: a body that fails mid-stream, and a view
that sets its own ``X-Call-Id``."""

from flask import Flask, Response

app = Flask("streaming")


@app.get("/stream_raise")
def stream_raise():
    def chunks():
        yield b"first chunk\n"
        raise RuntimeError("mid-stream failure, Bearer abcdefghijklmnopqrstuvwxyz0123456789")

    return Response(chunks())


@app.get("/own_call_id")
def own_call_id():
    return "ok", 200, {"X-Call-Id": "chosen-by-the-app"}
