"""httpx: an outgoing request made inside a call carries its stack and trace.

Each request that ``Client.send`` or ``AsyncClient.send`` sends (``client.get`` and
every other helper go through them) gets ``X-Call-Stack`` and the propagator's headers
when it is made inside an instrumented call, as
:mod:`eventlog_instrument.instrumentors.http_client` describes. They are added to the
request being sent, so ``response.request.headers`` shows what was sent. An async
request takes the call of the task that calls ``send``. Requests make no events.
"""

from __future__ import annotations

from typing import Any, ClassVar

from eventlog_instrument.instrumentors.hooks import guarded
from eventlog_instrument.instrumentors.http_client import HttpClientInstrumentor


class HttpxInstrumentor(HttpClientInstrumentor):
    """Propagation headers on the requests of httpx clients, sync and async."""

    name = "httpx"
    library = "httpx"
    supported = ((0, 23), (1,))
    targets: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("httpx._client", "Client.send", "_send"),
        ("httpx._client", "AsyncClient.send", "_send"),
    )

    def _send(self, wrapped: Any, client: Any, args: Any, kwargs: Any) -> Any:
        # AsyncClient.send returns its coroutine from here: the headers are added before
        self._add_headers(args[0] if args else kwargs.get("request"))
        return wrapped(*args, **kwargs)

    @guarded("add propagation headers to an httpx request")
    def _add_headers(self, request: Any) -> None:
        added = self.headers_for(request.url.host, request.headers.keys())
        if added:
            request.headers.update(added)
