"""Celery per-task cost of the hooks in CPU instructions, counted by valgrind's callgrind.

A task run as Celery's worker signals it, without the worker: a request pushed on the
task, ``task_prerun`` and ``task_postrun`` sent, the request popped, in a loop, each
variant in its own process: bare (no receivers), with this package (its exporter drops
what it gets, after building every envelope on its export thread), with this package and
exporter ``none`` (the drain rate's ``none`` row: hooks, no events, spans not
recorded since nothing reads them), the
minimal, SDK-span and bare-span variants below, and with
``opentelemetry-instrumentation-celery`` and the SDK's batch processor (whose exporter
drops the spans). The drain rate (``celery_throughput.py``) measures whole workers by
the clock; this is what the hooks add, the same from run to run, to compare one change
of them with the next. Each variant runs twice under callgrind, with one task and with
``--tasks`` more (``callgrind.py``): the difference divided by ``--tasks`` is what one
task costs, export thread included. As ``flask_overhead.py``'s floor, the minimal
variant is a span per task with our envelope and nothing else: two receivers of the
same signals start an SDK span with the same attributes (computed once, handed to the
SDK as attributes) and end it, our pipeline building and dropping the envelope; the
SDK-span variant is the same receivers with no span processor, what the SDK and
Celery's signals cost by themselves; the bare-span variant is that without attributes,
the least any design with an SDK span per task through Celery's signals can cost.
"""

from __future__ import annotations

import argparse

from callgrind import per_unit, print_against_bare, require_valgrind
from flask_overhead import VARIANT_ENV

VARIANT_CODE = r'''
import sys
variant, tasks = sys.argv[1], int(sys.argv[2])
from celery import Celery, signals

if variant == "ours":
    from discarding import DiscardEvents
    from eventlog_instrument import EventLogInstrumentor

    EventLogInstrumentor().instrument(exporters=[DiscardEvents()], service_name="bench")
elif variant == "none":
    from eventlog_instrument import EventLogInstrumentor

    EventLogInstrumentor().instrument(exporters="none", service_name="bench")
elif variant in ("floor", "sdk-span", "bare-span"):
    from opentelemetry import context, trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind
    from discarding import DiscardEvents
    from eventlog_instrument import EventLogInstrumentor
    from eventlog_instrument.calls import new_call

    if variant == "floor":
        EventLogInstrumentor().instrument(
            exporters=[DiscardEvents()], service_name="bench", disabled_instrumentations="*"
        )
    else:
        trace.set_tracer_provider(TracerProvider())
    tracer = trace.get_tracer("floor")
    attributes = None
    if variant != "bare-span":
        attributes = new_call("bench", "CeleryTask", "bench.noop", ()).attributes()
        attributes.update({"eventlog.data.task_id": "task-0", "eventlog.data.retries": 0,
                           "eventlog.data.state": "SUCCESS"})
    runs = {}

    @signals.task_prerun.connect
    def start_span(task_id, **_):
        span = tracer.start_span("bench.noop", kind=SpanKind.CONSUMER, attributes=attributes)
        runs[task_id] = span, context.attach(trace.set_span_in_context(span))

    @signals.task_postrun.connect
    def end_span(task_id, **_):
        span, token = runs.pop(task_id)
        context.detach(token)
        span.end()
elif variant == "official":
    from discarding import install_official_pipeline
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    install_official_pipeline()
    CeleryInstrumentor().instrument()

app = Celery("bench", broker="memory://")

@app.task
def noop():
    pass

task = app.tasks[noop.name]  # the task itself, not its proxy: what the worker signals

def one_task(number):
    task_id = f"task-{number}"
    task.push_request(id=task_id, retries=0, delivery_info={}, hostname="bench")
    signals.task_prerun.send(sender=task, task_id=task_id, task=task, args=(), kwargs={})
    signals.task_postrun.send(
        sender=task, task_id=task_id, task=task, args=(), kwargs={}, retval=None,
        state="SUCCESS",
    )
    task.pop_request()

for number in range(1000):
    one_task(number)
for number in range(tasks):
    one_task(number)
'''

VARIANTS = {
    "bare": "bare: the signals sent, no receivers",
    "ours": "eventlog-instrument",
    "none": "eventlog-instrument, exporter `none` (hooks, no events, spans unrecorded)",
    "floor": "a minimal span per task: two receivers start an SDK span with the same "
             "attributes and end it, our export",
    "sdk-span": "that span alone, no span processor",
    "bare-span": "an SDK span with no attributes and no span processor: the floor of a span "
                 "per task through Celery's signals",
    "official": "opentelemetry-instrumentation-celery + SDK batch processor",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    args = parser.parse_args()
    require_valgrind("celery_instructions.py")
    per_task = per_unit(VARIANT_CODE, VARIANTS, args.tasks, VARIANT_ENV)
    print(f"Celery hooks per task in instructions (callgrind, the worker's signals sent in a "
          f"loop, {args.tasks} tasks, export thread included):\n")
    print_against_bare(per_task, VARIANTS, unit="task")


if __name__ == "__main__":
    main()
