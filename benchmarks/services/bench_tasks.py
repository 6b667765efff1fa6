"""Celery tasks for the drain-rate benchmark.

$BENCH_INSTRUMENT picks the instrumentation: unset, bare; ``eventlog``, this package;
``official``, opentelemetry-instrumentation-celery with an SDK batch processor whose
exporter drops what it gets; a peer's name (see ``peers``), that peer shipping to the
sink at $BENCH_SINK_URL, flushed when the worker shuts down.
"""

import os
import time

import peers
from celery import Celery, signals

INSTRUMENT = os.environ.get("BENCH_INSTRUMENT")
if INSTRUMENT in peers.PEERS:
    peers.configure(INSTRUMENT, os.environ["BENCH_SINK_URL"], "celery")

    @signals.worker_shutdown.connect(weak=False)
    def _flush_peer(**_kwargs):
        peers.flush(INSTRUMENT)

app = Celery("bench_tasks", broker="amqp://guest:guest@127.0.0.1:5672//")
app.conf.worker_hijack_root_logger = False
app.conf.worker_prefetch_multiplier = 64

if INSTRUMENT == "eventlog":
    from eventlog_instrument import EventLogInstrumentor

    EventLogInstrumentor().instrument()
elif INSTRUMENT == "official":
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
