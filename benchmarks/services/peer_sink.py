"""A loopback stand-in for the peers' collectors: an OpenTelemetry collector's OTLP/HTTP
receiver, the Datadog agent, Sentry, the Elastic APM server. It answers their intake
endpoints as the real ones do and counts what each peer delivered (server and consumer
spans, traces, transactions), so a benchmark can check that no peer was measured doing
less work than in production.

    python peer_sink.py        # prints its port, then serves until killed

``GET /counts`` answers ``{"opentelemetry-otlp": n, "ddtrace": n, ...}``. A body
received again is answered but not counted again: a peer resends a payload whose answer it
did not get in time (ddtrace under callgrind did, and the sink counted 1,085 traces for
1,001 requests), and each payload holds calls no other payload holds.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS = {"opentelemetry-otlp": 0, "ddtrace": 0, "sentry-sdk": 0, "elastic-apm": 0}
LOCK = threading.Lock()
SEEN: set[bytes] = set()


def decoded(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli

        return brotli.decompress(body)
    return body


def calls_in_otlp(body: bytes) -> int:
    """Spans of kind server or consumer (one per request or task run) in an OTLP/HTTP
    protobuf export request."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    request = ExportTraceServiceRequest.FromString(body)
    entry_kinds = (Span.SPAN_KIND_SERVER, Span.SPAN_KIND_CONSUMER)
    return sum(
        span.kind in entry_kinds
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    )


def transactions_in_envelope(body: bytes) -> int:
    """Items of type ``transaction`` in a Sentry envelope: a header line, then items, each
    a header line and a payload of its ``length`` (else up to the next newline)."""
    count = 0
    position = body.find(b"\n") + 1
    while 0 < position < len(body):
        end = body.find(b"\n", position)
        end = len(body) if end < 0 else end
        header = json.loads(body[position:end])
        count += header.get("type") == "transaction"
        length = header.get("length")
        if length is None:
            following = body.find(b"\n", end + 1)
            position = len(body) if following < 0 else following + 1
        else:
            position = end + 1 + length + 1
    return count


class Intake(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # one answer, one segment: no delayed-ACK stall per intake

    def log_message(self, format: str, *args: object) -> None:
        return

    def answer(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer_protobuf(self) -> None:
        """An empty ``ExportTraceServiceResponse``: full success."""
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path == "/counts":
            with LOCK:
                self.answer(200, COUNTS)
        else:  # the APM server's version check; the agent's /info too, whose defaults do
            self.answer(200, {"version": "8.15.0"})

    def do_PUT(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        path = self.path.split("?")[0]
        if not self.first_delivery(path, raw):
            self.answer(200, {})
            return
        body = decoded(raw, self.headers.get("Content-Encoding", ""))
        if path == "/v1/traces":
            self.count("opentelemetry-otlp", calls_in_otlp(body))
            self.answer_protobuf()
        elif path.endswith("/traces"):
            self.count("ddtrace", int(self.headers.get("X-Datadog-Trace-Count") or 0))
            self.answer(200, {"rate_by_service": {"service:,env:": 1.0}})
        elif path.endswith("/envelope/"):
            self.count("sentry-sdk", transactions_in_envelope(body))
            self.answer(200, {})
        elif path == "/intake/v2/events":
            self.count("elastic-apm", body.count(b'{"transaction":'))
            self.answer(202, {})
        else:  # telemetry, stats and the like: taken, not counted
            self.answer(200, {})

    @staticmethod
    def first_delivery(path: str, raw: bytes) -> bool:
        digest = hashlib.sha256(path.encode() + b"\0" + raw).digest()
        with LOCK:
            if digest in SEEN:
                return False
            SEEN.add(digest)
            return True

    def count(self, peer: str, number: int) -> None:
        with LOCK:
            COUNTS[peer] += number


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Intake)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
