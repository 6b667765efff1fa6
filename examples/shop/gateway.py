"""The shop's Flask gateway. No instrumentation code: run it under ``eventlog-instrument``.

With ``SHOP_FULL=1`` a checkout calls the Nameko orders service by RPC and enqueues a
Celery receipt task; without it (no broker needed) the checkout only logs an event.
"""

import os

from flask import Flask, abort, jsonify

from eventlog_instrument import dispatch_event

app = Flask("gateway")
FULL = os.environ.get("SHOP_FULL") == "1"
AMQP_URI = os.environ.get("SHOP_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//")
ORDERS = {1: {"id": 1, "item": "teapot", "price": 30}}


@app.get("/orders/<int:order_id>")
def get_order(order_id):
    if order_id not in ORDERS:
        abort(404)
    return jsonify(ORDERS[order_id])


@app.post("/checkout/<item>")
def checkout(item):
    dispatch_event("checkout_started", {"item": item})
    if not FULL:
        return jsonify(status="accepted", item=item)
    from nameko.standalone.rpc import ClusterRpcProxy
    from tasks import send_receipt

    with ClusterRpcProxy({"AMQP_URI": AMQP_URI}) as rpc:
        order = rpc.orders.place_order(item)
    send_receipt.delay(order["id"])
    return jsonify(status="placed", order=order)
