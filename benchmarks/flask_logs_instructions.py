"""Flask per-request cost of log capture in CPU instructions, counted by callgrind.

A view logging three warnings beside a plain view, each bare, instrumented with
``EVENTLOG_CAPTURE_LOG_LEVEL=WARNING`` (the default: the three records go into the
event, every record gets the call ids) and with ``off`` (no capture; the records still
get the call ids). Counted as ``flask_instructions.py`` counts: one run with one timed
request and one with ``--requests`` more, export thread included. The app's logger
writes each record through a formatting handler to ``/dev/null``, as an application's
handler would.
"""

from __future__ import annotations

import argparse

from callgrind import per_unit, require_valgrind
from flask_overhead import VARIANT_ENV

VARIANT_CODE = r'''
import logging, os, sys
variant, view, requests = sys.argv[1], sys.argv[2], int(sys.argv[3])
import flask
from raw_wsgi import requester
if variant != "bare":
    from discarding import DiscardEvents
    from eventlog_instrument import EventLogInstrumentor

    EventLogInstrumentor().instrument(
        exporters=[DiscardEvents()], service_name="bench", capture_log_level=variant
    )

app = flask.Flask("bench")
log = logging.getLogger("bench.views")
log.propagate = False
handler = logging.StreamHandler(open(os.devnull, "w"))
handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
log.addHandler(handler)

@app.get("/plain/<int:order_id>")
def plain(order_id):
    return "ok"

@app.get("/logging/<int:order_id>")
def logging_view(order_id):
    log.warning("order %d: stock low", order_id)
    log.warning("order %d: retrying the payment", order_id)
    log.warning("order %d: slow answer from the warehouse", order_id)
    return "ok"

one_request = requester(app, f"/{view}/42")
for _ in range(requests):
    one_request()
'''

VARIANTS = {
    ("bare", "plain"): "bare Flask, plain view",
    ("bare", "logging"): "bare Flask, view logging 3 warnings",
    ("off", "plain"): "eventlog-instrument, level off, plain view",
    ("off", "logging"): "eventlog-instrument, level off, view logging 3 warnings",
    ("WARNING", "plain"): "eventlog-instrument, level WARNING, plain view",
    ("WARNING", "logging"): "eventlog-instrument, level WARNING, view logging 3 warnings",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    require_valgrind("flask_logs_instructions.py")
    per_request = per_unit(VARIANT_CODE, VARIANTS, args.requests, VARIANT_ENV)
    print(f"Flask log capture per request in instructions (callgrind, {args.requests} "
          "requests, export thread included):\n")
    print("| variant | instructions per request | added to bare, same view |")
    print("|---|---|---|")
    for (variant, view), label in VARIANTS.items():
        count = per_request[variant, view]
        print(f"| {label} | {count:,.0f} | {count - per_request['bare', view]:+,.0f} |")


if __name__ == "__main__":
    main()
