"""A WSGI response's body after the view returned.

A streamed body runs the application's code while the server sends it, so what that
code does belongs to the call: its log records, its manual events, the tasks it
publishes and the requests it makes. A body already made runs none, and is sent without
the cost of making the call's span current around each chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from opentelemetry import context, trace
from opentelemetry.trace import Span


def body_made(response: Iterable[bytes]) -> bool:
    """Whether the body is made already, so iterating it runs none of the application's
    code: a list or tuple, Django's non-streaming ``HttpResponse``, or werkzeug's
    ``ClosingIterator`` (what every Flask response hands back) over a ``Response`` whose
    body is a sequence. Anything else is taken as streamed."""
    if type(response) in _MADE_TYPES:
        return True
    try:
        # werkzeug's ClosingIterator calls the Response's own close last
        callbacks = getattr(response, "_callbacks", None)
        if type(callbacks) is list and callbacks:
            return getattr(getattr(callbacks[-1], "__self__", None), "is_sequence", None) is True
        return getattr(response, "streaming", None) is False
    except Exception:  # a hostile body: the streamed way is right for any body
        return False


_MADE_TYPES = (list, tuple)


def made_with_span_current(response: Iterable[bytes], span: Span) -> Iterator[bytes]:
    """The body's chunks, each made with the call's span current: a streamed body is made
    after the view returned, and what it does belongs to the call. Current only while a
    chunk is made, never while the server writes it."""
    current = trace.set_span_in_context(span)
    chunks = iter(response)
    while True:
        token = context.attach(current)
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        finally:
            context.detach(token)
        yield chunk
