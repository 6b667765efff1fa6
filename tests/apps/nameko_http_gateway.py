"""A Flask gateway in front of Nameko, with no instrumentation code (served by gunicorn
under ``eventlog-instrument``): it calls a Nameko ``@http`` entrypoint with requests,
and dispatches a Nameko event with the standalone event dispatcher."""

import os

import nameko
import requests
from flask import Flask
from nameko.standalone.events import event_dispatcher

NAMEKO_URL = os.environ["NAMEKO_URL"]
AMQP_URI = os.environ["GATEWAY_AMQP_URI"]
SERVICE = os.environ["EVENTLOG_SERVICE_NAME"]

app = Flask("gateway")


@app.get("/order/<int:order_id>")
def order(order_id):
    answer = requests.get(f"{NAMEKO_URL}/orders/{order_id}", timeout=10)
    return answer.text, answer.status_code


@app.post("/announce/<int:order_id>")
def announce(order_id):
    if hasattr(nameko, "config"):  # Nameko 3 reads its global config
        dispatch = event_dispatcher(uri=AMQP_URI)
    else:
        dispatch = event_dispatcher({"AMQP_URI": AMQP_URI})
    dispatch(SERVICE, "announced", {"order_id": order_id})
    return "announced"
