"""A Nameko gateway whose HTTP entrypoint subclasses ``HttpRequestHandler``, as
nameko-examples' gateway does; instrumented in code, run with ``nameko run``."""

import os

from nameko.web.handlers import HttpRequestHandler

from eventlog_instrument import EventLogInstrumentor

EventLogInstrumentor().instrument()


class HttpEntrypoint(HttpRequestHandler):
    """The gateway's own entrypoint type (nameko-examples adds error handling here)."""


http = HttpEntrypoint.decorator


class Gateway:
    name = os.environ["SERVICE_NAME"]

    @http("GET", "/ping")
    def ping(self, request):
        return "pong"
