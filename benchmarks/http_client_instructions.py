"""Per-request cost of the outgoing HTTP hooks inside a Flask request, in CPU
instructions counted by valgrind's callgrind, as ``flask_instructions.py`` counts them.

A Flask view makes one ``requests`` call (a kept-alive session) to a small HTTP server
of this script's own, run in this process, outside callgrind. Each variant runs twice
under callgrind, with one timed request and with ``--requests`` more; the difference
divided by ``--requests`` is one request's cost, export thread included. The requests
and urllib3 hooks' own cost is the instrumented variant less the one with them disabled;
the variant without the urllib3 hook shows what is left of it under requests (it skips a
request that requests has given ``X-Call-Stack`` already).
"""

from __future__ import annotations

import argparse
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from callgrind import per_unit, require_valgrind
from flask_overhead import VARIANT_ENV

VARIANT_CODE = r'''
import sys
variant, requests_count, url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
import flask
import requests
from raw_wsgi import requester
if variant != "bare":
    from discarding import DiscardEvents
    from eventlog_instrument import EventLogInstrumentor

    disabled = {"flask-only": "requests,urllib3", "requests-only": "urllib3"}.get(variant, "")
    EventLogInstrumentor().instrument(
        exporters=[DiscardEvents()], service_name="bench", disabled_instrumentations=disabled
    )

app = flask.Flask("bench")
session = requests.Session()

@app.get("/orders/<int:order_id>")
def order(order_id):
    return session.get(url, timeout=10).content

one_request = requester(app, "/orders/42")

for _ in range(200):
    one_request()
for _ in range(requests_count):
    one_request()
'''

VARIANTS = {
    "bare": "bare Flask view making one requests call",
    "flask-only": "instrumented, requests and urllib3 hooks disabled",
    "requests-only": "instrumented, urllib3 hook disabled",
    "ours": "instrumented, requests and urllib3 hooks on",
}


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    require_valgrind("http_client_instructions.py")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/stock"
    try:
        per_request = per_unit(VARIANT_CODE, VARIANTS, args.requests, VARIANT_ENV, extra=(url,))
    finally:
        server.shutdown()
    hooks = per_request["ours"] - per_request["flask-only"]
    print("Outgoing requests call inside a Flask request, instructions per request "
          f"(callgrind, {args.requests} requests, export thread included):\n")
    print("| variant | instructions per request | added over bare |")
    print("|---|---|---|")
    for variant, label in VARIANTS.items():
        count = per_request[variant]
        print(f"| {label} | {count:,.0f} | {count - per_request['bare']:+,.0f} |")
    print(f"\nThe requests and urllib3 hooks: {hooks:,.0f} instructions per outgoing request.")


if __name__ == "__main__":
    main()
