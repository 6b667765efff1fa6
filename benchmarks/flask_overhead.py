"""Flask per-request time: bare, with this package, with opentelemetry-instrumentation-flask.

Each variant runs in its own process (the official instrumentor replaces the Flask
class, so the two cannot share one), and the processes alternate round after round so
that all three see the same machine. A request is a raw WSGI call of a trivial view.
Both instrumented variants end every span in a batch processor whose exporter drops
what it gets: ours builds the envelope on its export thread as in production, the
official one hands spans to the SDK's BatchSpanProcessor. The peers ship every request
to a loopback sink (see ``peers``), OpenTelemetry's own pipeline among them, exporting
OTLP/HTTP from the same batch processor. The floor variant is the
least a span-per-request design with our envelope can cost: one wrapper starts an SDK
span with the same nine attributes (computed once, not per request) and ends it, and
our pipeline builds and drops the envelope. The SDK-span variant is the same wrapper
with no span processor at all: what the OpenTelemetry SDK costs by itself. Prints a
Markdown table of medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "services"))
import peers
from programs import completed

VARIANT_CODE = r'''
import sys, time
variant, requests = sys.argv[1], int(sys.argv[2])
import peers
import flask
from raw_wsgi import requester
if variant == "ours":
    from discarding import DiscardEvents
    from eventlog_instrument import EventLogInstrumentor

    EventLogInstrumentor().instrument(exporters=[DiscardEvents()], service_name="bench")
elif variant == "sdk-span":
    from opentelemetry import context, trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind
    from eventlog_instrument.calls import new_call

    trace.set_tracer_provider(TracerProvider())
elif variant == "floor":
    from opentelemetry import context, trace
    from opentelemetry.trace import SpanKind
    from discarding import DiscardEvents
    from eventlog_instrument import EventLogInstrumentor
    from eventlog_instrument.calls import new_call

    EventLogInstrumentor().instrument(
        exporters=[DiscardEvents()], service_name="bench", disabled_instrumentations="*"
    )
elif variant == "official":
    from discarding import install_official_pipeline
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    install_official_pipeline()
    FlaskInstrumentor().instrument()
elif variant in peers.PEERS:
    sink = peers.Sink()
    peers.configure(variant, sink.url, "flask")

app = flask.Flask("bench")
if variant in peers.PEERS:
    peers.instrument_flask_app(variant, app)
if variant in ("sdk-span", "floor"):
    tracer = trace.get_tracer("floor")
    attributes = new_call("bench", "Flask", "order", ()).attributes()
    attributes.update({"eventlog.data.method": "GET", "eventlog.data.status_code": 200,
                       "eventlog.data.route": "/orders/<int:order_id>"})

@app.get("/orders/<int:order_id>")
def order(order_id):
    return "ok"

if variant in ("sdk-span", "floor"):
    flask_wsgi_app = app.wsgi_app

    def span_only_wsgi_app(environ, start_response):
        span = tracer.start_span("GET /orders/<int:order_id>", kind=SpanKind.SERVER,
                                 attributes=attributes)
        token = context.attach(trace.set_span_in_context(span))
        try:
            return flask_wsgi_app(environ, start_response)
        finally:
            context.detach(token)
            span.end()

    app.wsgi_app = span_only_wsgi_app

one_request = requester(app, "/orders/42")

WARM_UP = 1000
for _ in range(WARM_UP):
    one_request()
started = time.perf_counter()
for _ in range(requests):
    one_request()
print((time.perf_counter() - started) / requests * 1e6)
if variant in peers.PEERS:
    try:
        peers.deliver_and_check(variant, sink, WARM_UP + requests)
    finally:
        sink.stop()
'''

VARIANT_ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        filter(None, [str(Path(__file__).parent / "services"), os.environ.get("PYTHONPATH")])
    ),
}
"""The variants' environment: ``discarding`` is importable."""

VARIANTS = {
    "bare": "bare Flask",
    "ours": "eventlog-instrument",
    "floor": "floor: one SDK span with the same attributes and our export, no hooks",
    "sdk-span": "the floor's SDK span alone, no span processor",
    "official": "opentelemetry-instrumentation-flask + SDK batch processor, spans discarded",
    "opentelemetry-otlp": "opentelemetry-instrumentation-flask + SDK batch processor, "
                          "OTLP/HTTP to a loopback collector",
    "ddtrace": "ddtrace, to a loopback agent",
    "sentry-sdk": "sentry-sdk, traces_sample_rate 1.0, to a loopback intake",
    "elastic-apm": "elastic-apm, to a loopback APM server",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    timings: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            output = completed(
                [sys.executable, "-c", VARIANT_CODE, variant, str(args.requests)], VARIANT_ENV
            ).stdout
            timings[variant].append(float(output.strip().splitlines()[-1]))
    bare = statistics.median(timings["bare"])
    print(f"Flask per-request time, raw WSGI call, median of {args.rounds} rounds of "
          f"{args.requests} requests:\n")
    print("| variant | µs per request | added µs | vs bare |")
    print("|---|---|---|---|")
    for variant, label in VARIANTS.items():
        median = statistics.median(timings[variant])
        print(f"| {label} | {median:.1f} | {median - bare:+.1f} | {median / bare:.2f} |")
    print(f"\nPeers: {peers.versions()}; each ships every request to a loopback sink of the "
          "benchmark's own, which must receive one entry span, trace or transaction per request.")


if __name__ == "__main__":
    main()
