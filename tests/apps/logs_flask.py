"""A Flask app that logs, served under eventlog-instrument by tests/test_logs_flask.py.

Its logger writes ``%(eventlog_call_id)s %(message)s`` lines to $LOGS_APP_FILE.
"""

import logging
import os

from flask import Flask, Response

app = Flask("logshop")
log = logging.getLogger("logshop.views")
log.setLevel(logging.DEBUG)
log.propagate = False
_handler = logging.FileHandler(os.environ["LOGS_APP_FILE"])
_handler.setFormatter(logging.Formatter("%(eventlog_call_id)s %(message)s"))
log.addHandler(_handler)
log.warning("logshop starting")


@app.get("/mixed")
def mixed():
    log.debug("never kept: below INFO")
    log.info("looking up order 7")
    log.warning("stock low: %d left", 2)
    try:
        {}["order 7"]
    except KeyError:
        log.error("lookup failed", exc_info=True)
    return "done"


@app.get("/flood")
def flood():
    for number in range(500):
        log.warning("warning %d", number)
    return "flooded"


@app.get("/stream")
def stream():
    log.warning("stream opened")

    def chunks():
        for number in range(3):
            log.warning("chunk %d sent", number)
            yield f"{number}\n"

    return Response(chunks(), mimetype="text/plain")
