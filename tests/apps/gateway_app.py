"""A Flask gateway that calls Nameko by RPC and enqueues a Celery task, for the chain test."""

import os

import celery_app
from flask import Flask, jsonify
from nameko.standalone.rpc import ClusterRpcProxy

from eventlog_instrument import EventLogInstrumentor

AMQP_URI = os.environ["GATEWAY_AMQP_URI"]
ORDERS = os.environ["GATEWAY_ORDERS_SERVICE"]
TASK_QUEUE = os.environ["GATEWAY_TASK_QUEUE"]

app = Flask("gateway")
EventLogInstrumentor().instrument()


@app.post("/checkout/<int:value>")
def checkout(value):
    with ClusterRpcProxy({"AMQP_URI": AMQP_URI}) as rpc:
        relayed = rpc[ORDERS].start(value)
    task = celery_app.add.apply_async((value, value), queue=TASK_QUEUE)
    return jsonify(relayed=relayed, task_id=task.id)
