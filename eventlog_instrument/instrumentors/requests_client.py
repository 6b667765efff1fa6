"""requests: an outgoing request made inside a call carries its stack and trace.

Each request that ``Session.send`` sends (``requests.get`` and every other helper go
through it) gets ``X-Call-Stack`` and the propagator's headers when it is made inside an
instrumented call, as :mod:`eventlog_instrument.instrumentors.http_client` describes.
They are added to the prepared request being sent, which requests owns, so
``response.request.headers`` shows what was sent. Requests make no events.
"""

from __future__ import annotations

from typing import Any, ClassVar

from eventlog_instrument.instrumentors.hooks import guarded
from eventlog_instrument.instrumentors.http_client import HttpClientInstrumentor, host_of


class RequestsInstrumentor(HttpClientInstrumentor):
    """Propagation headers on the requests of ``requests`` sessions."""

    name = "requests"
    library = "requests"
    supported = ((2, 20), (3,))
    targets: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("requests.sessions", "Session.send", "_send"),
    )

    def _send(self, wrapped: Any, session: Any, args: Any, kwargs: Any) -> Any:
        request = args[0] if args else kwargs.get("request")
        self._add_headers(request)
        return wrapped(*args, **kwargs)

    @guarded("add propagation headers to a requests request")
    def _add_headers(self, request: Any) -> None:
        added = self.headers_for(host_of(request.url), request.headers)
        if added:
            request.headers.update(added)
