"""The headers of Nameko's standalone event dispatcher, read on the real RabbitMQ: the
current call's stack and trace context inside a call, nothing outside one, and the
caller's own headers untouched."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from eventlog_instrument.calls import new_call
from tests.support.brokers import AMQP_URI

tracer = trace.get_tracer(__name__)


def dispatcher(**kwargs):
    import nameko
    from nameko.standalone.events import event_dispatcher

    if hasattr(nameko, "config"):  # Nameko 3 reads its global config
        return event_dispatcher(uri=AMQP_URI, **kwargs)
    return event_dispatcher({"AMQP_URI": AMQP_URI}, **kwargs)


def test_events_dispatched_in_a_call_carry_its_stack_and_trace_and_none_outside(announced, pipeline):
    service, queue = announced
    pipeline()
    dispatch = dispatcher()
    caller = new_call("gateway", "Flask", "checkout", ("edge.route.1",))
    with tracer.start_as_current_span("checkout", kind=SpanKind.SERVER, attributes=caller.attributes()) as span:
        dispatch(service, "announced", {"n": 1})
        trace_id = format(span.get_span_context().trace_id, "032x")
    dispatch(service, "announced", {"n": 2})

    inside, outside = queue.read(2)
    assert (inside.payload, outside.payload) == ({"n": 1}, {"n": 2})
    assert inside.headers["nameko.call_id_stack"] == ["edge.route.1", caller.call_id]
    assert inside.headers["nameko.traceparent"].split("-")[1] == trace_id
    assert not any(name.startswith("nameko.") for name in outside.headers or {})


def test_headers_the_caller_gave_the_dispatcher_win(announced, pipeline):
    service, queue = announced
    pipeline()
    dispatch = dispatcher(headers={"nameko.call_id_stack": ["own.stack.1"], "tenant": "acme"})
    caller = new_call("gateway", "Flask", "checkout")
    with tracer.start_as_current_span("checkout", kind=SpanKind.SERVER, attributes=caller.attributes()):
        dispatch(service, "announced", {"n": 1})

    [message] = queue.read(1)
    assert message.headers["nameko.call_id_stack"] == ["own.stack.1"]
    assert message.headers["tenant"] == "acme"
    assert "nameko.traceparent" in message.headers
