"""A Nameko service with no instrumentation code that dispatches a manual event in its
RPC and answers on HTTP, for the hostile-call tests (run under the launcher)."""

import os

from nameko.rpc import rpc
from nameko.web.handlers import http

from eventlog_instrument import dispatch_event


class StackEcho:
    name = os.environ["SERVICE_NAME"]

    @rpc
    def echo(self, value):
        dispatch_event("inside_echo", {"value": value})
        return value

    @http("GET", "/orders/<int:order_id>")
    def get_order(self, request, order_id):
        return 200, {"X-Order": str(order_id)}, f"order {order_id}"
