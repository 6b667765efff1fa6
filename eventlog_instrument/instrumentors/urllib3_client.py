"""urllib3 (1.26 and 2.x): an outgoing request made inside a call carries its stack
and trace.

Each request that a connection pool's ``urlopen`` sends (``PoolManager``,
``urllib3.request`` and requests all go through it) gets ``X-Call-Stack`` and the
propagator's headers when it is made inside an instrumented call, as
:mod:`eventlog_instrument.instrumentors.http_client` describes. The headers are added
to a copy: the caller's dict, often one reused for many requests, is never changed.
Requests make no events.
"""

from __future__ import annotations

from typing import Any, ClassVar

from eventlog_instrument.instrumentors.hooks import guarded
from eventlog_instrument.instrumentors.http_client import HttpClientInstrumentor

_HEADERS_POSITION = 2
"""``urlopen(method, url, body=None, headers=None, ...)``: where ``headers`` comes."""


class Urllib3Instrumentor(HttpClientInstrumentor):
    """Propagation headers on the requests of urllib3 connection pools."""

    name = "urllib3"
    library = "urllib3"
    supported = ((1, 26), (3,))
    targets: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("urllib3.connectionpool", "HTTPConnectionPool.urlopen", "_urlopen"),
    )

    def _urlopen(self, wrapped: Any, pool: Any, args: Any, kwargs: Any) -> Any:
        headers = self._with_headers(pool, args, kwargs)
        if headers is None:
            return wrapped(*args, **kwargs)
        if len(args) > _HEADERS_POSITION:
            args = (*args[:_HEADERS_POSITION], headers, *args[_HEADERS_POSITION + 1 :])
        else:
            kwargs = {**kwargs, "headers": headers}
        return wrapped(*args, **kwargs)

    @guarded("add propagation headers to a urllib3 request")
    def _with_headers(self, pool: Any, args: Any, kwargs: Any) -> Any:
        """A copy of the request's headers with ours added; ``None`` to send them as
        they are."""
        given = args[_HEADERS_POSITION] if len(args) > _HEADERS_POSITION else kwargs.get("headers")
        # no headers means the pool's own (urllib3 sends pool.headers then)
        headers = pool.headers if given is None else given
        added = self.headers_for(pool.host or "", headers.keys())
        if not added:
            return None
        merged = headers.copy()
        merged.update(added)
        return merged
