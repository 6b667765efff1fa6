"""Tasks that make the hops of issue 14 from inside a Celery worker: HTTP requests to an
instrumented Flask app, and canvas (group, chain, chord) published by a running task.

The worker loads them with ``--include hop_tasks``; a chord needs a result backend that
supports chords (Redis here, ``$CELERY_RESULT_BACKEND``).
"""

import json
import urllib.request

import requests
from celery import chain, chord, group
from celery_app import add, app


@app.task
def fetch_with_requests(url):
    return requests.get(url, timeout=10).json()


@app.task
def fetch_with_urllib(url):
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


@app.task
def total(values):
    return sum(values)


@app.task
def launch(kind):
    """Publish a canvas of ``kind`` from inside this task's call."""
    members = [add.s(n, n) for n in range(3)]
    if kind == "group":
        group(members).apply_async()
    elif kind == "chain":
        chain(add.s(1, 1), add.s(2), add.s(3)).apply_async()
    else:
        chord(members)(total.s())
