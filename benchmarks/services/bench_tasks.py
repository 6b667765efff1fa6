"""Celery tasks for the drain-rate benchmark.

$BENCH_INSTRUMENT picks the instrumentation: unset, bare; ``eventlog``, this package;
``official``, opentelemetry-instrumentation-celery with an SDK batch processor whose
exporter drops what it gets.
"""

import os
import time

from celery import Celery

app = Celery("bench_tasks", broker="amqp://guest:guest@127.0.0.1:5672//")
app.conf.worker_hijack_root_logger = False
app.conf.worker_prefetch_multiplier = 64

if os.environ.get("BENCH_INSTRUMENT") == "eventlog":
    from eventlog_instrument import EventLogInstrumentor

    EventLogInstrumentor().instrument()
elif os.environ.get("BENCH_INSTRUMENT") == "official":
    from discarding import install_official_pipeline
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    install_official_pipeline()
    CeleryInstrumentor().instrument()


@app.task(ignore_result=True)
def noop(number, total, marks):
    if number == 0:
        with open(marks, "a") as file:
            file.write(f"start {time.perf_counter()}\n")
    if number == total - 1:
        with open(marks, "a") as file:
            file.write(f"end {time.perf_counter()}\n")
