"""Demo: a checkout call and the events it logs, on the default console exporter.

Run with ``nox -s demo``; no broker is needed. Each line printed is one envelope.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from eventlog_instrument import EventLogInstrumentor, dispatch_event
from eventlog_instrument.calls import new_call

EventLogInstrumentor().instrument(service_name="shop")
tracer = trace.get_tracer("demo")


def handle(service: str, entrypoint: str, parent_stack: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Stand-in for an instrumented entrypoint: one call span, as an instrumentor makes."""
    call = new_call(service, "Rpc", entrypoint, parent_stack)
    attributes = call.attributes()
    kind = SpanKind.SERVER
    with tracer.start_as_current_span(entrypoint, kind=kind, attributes=attributes) as span:
        span.set_attribute("tenant", "acme")
        dispatch_event(f"{entrypoint}_done", {"items": 2})
    return call.call_stack


checkout_stack = handle("gateway", "checkout")
handle("orders", "place_order", checkout_stack)
dispatch_event("demo_finished", metadata={"note": "outside any call"})
