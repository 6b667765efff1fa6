"""Celery per-task cost of the hooks in CPU instructions, counted by valgrind's callgrind.

A task run as Celery's worker signals it, without the worker: a request pushed on the
task, ``task_prerun`` and ``task_postrun`` sent, the request popped, in a loop, in
three variants, each in its own process: bare (no receivers), with this package (its
exporter drops what it gets, after building every envelope on its export thread), and
with ``opentelemetry-instrumentation-celery`` and the SDK's batch processor (whose
exporter drops the spans). The drain rate (``celery_throughput.py``) measures whole
workers by the clock; this is what the hooks add, the same from run to run, to compare
one change of them with the next. Each variant runs twice under callgrind, with one
task and with ``--tasks`` more (``callgrind.py``): the difference divided by
``--tasks`` is what one task costs, export thread included.
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
