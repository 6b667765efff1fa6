"""The shop's Celery worker: sends receipts."""

import os

from celery import Celery

app = Celery("tasks", broker=os.environ.get("SHOP_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//"))
app.conf.worker_hijack_root_logger = False


@app.task
def send_receipt(order_id):
    return f"receipt for order {order_id}"
