"""Nameko services A -> B -> (event) -> C, instrumented in code, run with ``nameko run``.

Service names start with ``$SERVICE_PREFIX`` so every test has its own exchanges.
"""

import os

from kombu import Exchange, Queue
from nameko.events import EventDispatcher, event_handler
from nameko.messaging import consume
from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer
from nameko.web.handlers import http
from opentelemetry import trace

from eventlog_instrument import EventLogInstrumentor, dispatch_event

EventLogInstrumentor().instrument()

PREFIX = os.environ["SERVICE_PREFIX"]
RESULTS = os.environ.get("RESULTS_FILE", os.devnull)
consume_queue = Queue(f"{PREFIX}-jobs", Exchange(f"{PREFIX}-jobs", type="direct"), routing_key="job")


def record(line):
    with open(RESULTS, "a", encoding="utf-8") as results:
        results.write(line + "\n")


class ServiceA:
    name = f"{PREFIX}_a"
    b = RpcProxy(f"{PREFIX}_b")

    @rpc
    def start(self, value):
        return self.b.relay(value)

    @rpc
    def fail(self):
        raise ValueError("boom")

    @rpc(expected_exceptions=KeyError)
    def expected(self):
        raise KeyError("missing")

    @rpc
    def tagged(self):
        trace.get_current_span().set_attribute("tenant", "acme")
        dispatch_event("custom", {"x": 1}, {"channel": "web"})
        return "ok"

    @rpc
    def excluded(self):
        dispatch_event("inside_excluded")
        return "ok"

    @http("GET", "/hello/<name>")
    def hello(self, request, name):
        return f"hello {name}"

    @timer(interval=3600, eager=True)
    def tick(self):
        record("tick")

    @consume(consume_queue)
    def job(self, payload):
        record(f"job {payload}")

    @rpc
    def spawn(self):
        import eventlet

        return eventlet.spawn(lambda: trace.get_current_span().get_span_context().span_id).wait()


class ServiceB:
    name = f"{PREFIX}_b"
    dispatch = EventDispatcher()

    @rpc
    def relay(self, value):
        self.dispatch("relayed", {"value": value})
        return value


class ServiceC:
    name = f"{PREFIX}_c"

    @event_handler(f"{PREFIX}_b", "relayed")
    def on_relayed(self, payload):
        record(f"relayed {payload['value']}")


class Toggle:
    """Turns the instrumentation off and on inside the running service process."""

    name = f"{PREFIX}_toggle"

    @rpc
    def set(self, instrumented):
        if instrumented:
            EventLogInstrumentor().instrument()
        else:
            EventLogInstrumentor().uninstrument()
        import wrapt
        from nameko.containers import ServiceContainer

        run_worker = vars(ServiceContainer)["_run_worker"]
        layers = 0
        while isinstance(run_worker, wrapt.FunctionWrapper):
            layers += 1
            run_worker = run_worker.__wrapped__
        return layers
