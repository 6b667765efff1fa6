"""A Celery app for the tests; its worker is instrumented when $EVENTLOG_TEST_INSTRUMENT is set.

Tasks go to the queue ``$CELERY_TEST_QUEUE`` so that every test has its own.
"""

import os

from celery import Celery

QUEUE = os.environ.get("CELERY_TEST_QUEUE", "celery")
app = Celery(
    "tasks",
    broker=os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
    backend=os.environ.get("CELERY_RESULT_BACKEND", "rpc://"),
)
app.conf.task_default_queue = QUEUE
app.conf.worker_hijack_root_logger = False
app.conf.broker_connection_retry_on_startup = True

if os.environ.get("EVENTLOG_TEST_INSTRUMENT"):
    from eventlog_instrument import EventLogInstrumentor

    EventLogInstrumentor().instrument()


@app.task
def add(x, y):
    return x + y


@app.task
def fail():
    raise ValueError("bad input")


@app.task(throws=(KeyError,))
def expected():
    raise KeyError("no such order")


@app.task(bind=True, max_retries=2, default_retry_delay=0)
def flaky(self):
    if self.request.retries == 0:
        raise self.retry(exc=ConnectionError("upstream down"), countdown=0)
    return "recovered"
