"""A Flask app served by gunicorn in the tests; instrumented in code after the app exists."""

import time

from flask import Flask, Response, jsonify
from opentelemetry import trace

from eventlog_instrument import EventLogInstrumentor, dispatch_event

app = Flask("shop")
EventLogInstrumentor().instrument()


@app.get("/orders/<int:order_id>")
def get_order(order_id):
    trace.get_current_span().set_attribute("tenant", "acme")
    dispatch_event("order_viewed", {"order_id": order_id})
    return jsonify(id=order_id)


@app.get("/boom")
def boom():
    raise RuntimeError("kaput")


@app.post("/only-post")
def only_post():
    return "posted"


@app.get("/health")
def health():
    return "ok"


@app.get("/stream")
def stream():
    def chunks():
        for number in range(3):
            time.sleep(0.05)
            yield f"{number}\n"

    return Response(chunks(), mimetype="text/plain")
