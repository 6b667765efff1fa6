"""urllib.request: an outgoing request made inside a call carries its stack and trace.

Each HTTP or HTTPS request that ``urlopen`` (or an opener of one's own) sends gets
``X-Call-Stack`` and the propagator's headers when it is made inside an instrumented
call, as :mod:`eventlog_instrument.instrumentors.http_client` describes. They are added
as unredirected headers of the request (a redirect is a request of its own and gets
its own). Requests make no events. Part of the standard library: always available.
"""

from __future__ import annotations

from typing import Any, ClassVar

from eventlog_instrument.instrumentors.hooks import guarded
from eventlog_instrument.instrumentors.http_client import HttpClientInstrumentor, host_of


class UrllibInstrumentor(HttpClientInstrumentor):
    """Propagation headers on the HTTP requests of ``urllib.request``."""

    name = "urllib"
    library = "python"
    supported = ((3, 10), (4,))
    targets: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("urllib.request", "AbstractHTTPHandler.do_open", "_do_open"),
    )

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None

    def _do_open(self, wrapped: Any, handler: Any, args: Any, kwargs: Any) -> Any:
        request = args[1] if len(args) > 1 else kwargs.get("req")
        self._add_headers(request)
        return wrapped(*args, **kwargs)

    @guarded("add propagation headers to a urllib.request request")
    def _add_headers(self, request: Any) -> None:
        present = [*request.headers, *request.unredirected_hdrs]
        added = self.headers_for(host_of(request.full_url), present)
        for name, value in (added or {}).items():
            request.add_unredirected_header(name, value)
