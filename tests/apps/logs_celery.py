"""A Celery app whose task logs through its task logger (tests/test_logs_workers.py)."""

import os
import time

from celery import Celery
from celery.utils.log import get_task_logger

app = Celery("logtasks", broker=os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"))
app.conf.worker_hijack_root_logger = False
app.conf.broker_connection_retry_on_startup = True
logger = get_task_logger(__name__)


@app.task
def chatty(tag, rounds):
    for number in range(rounds):
        logger.warning("%s %d", tag, number)
        time.sleep(0.01)
    return tag
