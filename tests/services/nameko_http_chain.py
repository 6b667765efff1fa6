"""Nameko services behind an ``@http`` entrypoint, with no instrumentation code (run
under ``eventlog-instrument nameko run``): Web -> RPC Store -> event -> Audit.

Service names start with ``$SERVICE_PREFIX``; ``$GATEWAY_SERVICE`` is the Flask app
whose standalone ``announced`` events Audit handles. The answers hold nothing of the
instrumentation, so they must be the same whatever the request's headers.
"""

import os

from nameko.events import EventDispatcher, event_handler
from nameko.rpc import RpcProxy, rpc
from nameko.web.handlers import http

PREFIX = os.environ["SERVICE_PREFIX"]


class Web:
    name = f"{PREFIX}_web"
    store = RpcProxy(f"{PREFIX}_store")

    @http("GET", "/orders/<int:order_id>")
    def get_order(self, request, order_id):
        return 200, {"X-Order": str(order_id)}, self.store.fetch(order_id)

    @http("GET", "/fail")
    def fail(self, request):
        raise ValueError("boom")

    @http("GET", "/missing", expected_exceptions=KeyError)
    def missing(self, request):
        raise KeyError("no such order")

    @http("GET", "/own-call-id")
    def own_call_id(self, request):
        return 200, {"X-Call-Id": "the-app-s-own"}, "own"


class Store:
    name = f"{PREFIX}_store"
    dispatch = EventDispatcher()

    @rpc
    def fetch(self, order_id):
        self.dispatch("fetched", {"order_id": order_id})
        return f"order {order_id}"


class Audit:
    name = f"{PREFIX}_audit"

    @event_handler(f"{PREFIX}_store", "fetched")
    def on_fetched(self, payload):
        return payload

    @event_handler(os.environ["GATEWAY_SERVICE"], "announced")
    def on_announced(self, payload):
        return payload
