"""The same service twice: with nameko-eventlog-dispatcher 0.4.2 and with the drop-in.

``$SERVICE_PREFIX``_old uses the old library, ``$SERVICE_PREFIX``_new this package's
``EventLogDispatcher``; nothing else differs. No ``EventLogInstrumentor`` runs here:
the drop-in publishes to the service's own AMQP_URI, as the old library did.
"""

import os

from nameko.events import event_handler
from nameko.rpc import rpc
from nameko.timer import timer
from nameko.web.handlers import http
from nameko_eventlog_dispatcher import EventLogDispatcher as OldEventLogDispatcher

from eventlog_instrument import EventLogDispatcher

PREFIX = os.environ["SERVICE_PREFIX"]


def make_service(dispatcher_class, label):
    class Service:
        name = f"{PREFIX}_{label}"
        eventlog_dispatcher = dispatcher_class()

        @rpc
        def only_type(self):
            self.eventlog_dispatcher("my_event")

        @rpc
        def with_data(self):
            self.eventlog_dispatcher("my_event", {"value": 1})

        @rpc
        def with_metadata(self):
            self.eventlog_dispatcher(
                "my_event", {"value": 1}, {"meta": "x", "service_name": "overridden"}
            )

        @rpc
        def keywords(self):
            self.eventlog_dispatcher(
                event_type="my_event", event_data={"nested": {"a": [1, 2]}}, metadata={"k": True}
            )

        @rpc
        def excluded_method(self):
            return "ok"

        @http("GET", f"/{label}/hello")
        def hello(self, request):
            return "hi"

        @timer(interval=3600, eager=True)
        def tick(self):
            pass

        @event_handler(f"{PREFIX}_{label}_source", "ping")
        def on_ping(self, payload):
            pass

    Service.__name__ = f"{label.title()}Service"
    return Service


OldService = make_service(OldEventLogDispatcher, "old")
NewService = make_service(EventLogDispatcher, "new")
