"""What the HTTP client instrumentors share: the headers an outgoing request carries.

A request made inside an instrumented call (a Flask request, a Celery task, a Nameko
worker) carries ``X-Call-Stack``, that call's stack (call ids, outermost first, comma
separated, as the Flask instrumentor reads it), and the configured propagator's headers
(``traceparent``, ...). The callee appends its own call id: a client request is not an
event and adds no call id of its own. Outside a call nothing is added, and a host named
by ``EVENTLOG_HTTP_CLIENT_EXCLUDED_HOSTS`` gets nothing either. A header the caller set
itself, in any letter case, is never overwritten, and a request that already carries
``X-Call-Stack`` gets nothing more: the caller, or an outer client's hook (requests
sends through urllib3), has propagated it already, and computing the trace headers
again (the propagator's inject is most of a hook's cost) would only throw them away.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Set
from urllib.parse import urlsplit

from opentelemetry import propagate

from eventlog_instrument import constants as c
from eventlog_instrument.calls import current_call
from eventlog_instrument.instrumentors.framework import FrameworkInstrumentor
from eventlog_instrument.instrumentors.hooks import guarded, suppressed


class HttpClientInstrumentor(FrameworkInstrumentor):
    """An HTTP client's instrumentor: :meth:`headers_for` is what its hooks add."""

    def headers_for(self, host: str, present: Iterable[str]) -> dict[str, str] | None:
        """The headers to add to a request to ``host`` that already has the ``present``
        header names; ``None`` when there are none (outside a call, say)."""
        if suppressed() or self.settings is None:
            return None
        taken = {name.lower() for name in present}
        if _STACK_NAME in taken:
            return None
        added = propagation_headers(self.settings.http_client_excluded_hosts, host)
        return missing_headers(added, taken) if added else None

@guarded("compute the propagation headers of an outgoing HTTP request")
def propagation_headers(
    excluded_hosts: tuple[re.Pattern[str], ...], host: str
) -> dict[str, str] | None:
    """The headers a request to ``host`` gets here; ``None`` when it gets none."""
    call = current_call()
    if call is None or (excluded_hosts and _excluded(excluded_hosts, host)):
        return None
    carrier: dict[str, object] = {c.CALL_STACK_HTTP_HEADER: ",".join(call.call_stack)}
    propagate.inject(carrier)
    return {key: str(value) for key, value in carrier.items()}


def host_of(url: str) -> str:
    """The host name of an absolute URL, ``""`` when it has none."""
    return urlsplit(url).hostname or ""


def missing_headers(added: dict[str, str], taken: Set[str]) -> dict[str, str]:
    """Of ``added``, those whose name, lower-cased, is not among the ``taken`` names
    (lower-case already: the caller built them to look for ``X-Call-Stack``)."""
    return {name: value for name, value in added.items() if name.lower() not in taken}


_STACK_NAME = c.CALL_STACK_HTTP_HEADER.lower()


def _excluded(patterns: tuple[re.Pattern[str], ...], host: str) -> bool:
    return any(pattern.search(host) for pattern in patterns)
