"""What every hook does, whatever its framework: use these rather than writing them again.

* :func:`guarded` keeps the package's own errors out of the application: a decorated
  step that raises returns ``None`` instead, and the failure is logged as one WARNING
  line per step every 10 seconds (with how many more failed in between), its message
  redacted of credentials, without a traceback (that goes to DEBUG, frames only).
  Only the package's steps are guarded: a hook calls the application's code outside
  them, so the application's exceptions reach the application unchanged.
* :func:`suppressed`, :func:`begin_call` and :func:`end_call`: a call's span made
  current and counted open (exit waits for open calls before it flushes), then
  detached, ended and counted closed. A call whose span starts after the call does
  (a WSGI request) uses the pieces: :func:`call_opened`, :func:`make_current`,
  :func:`call_closed`.
* :func:`record_outcome`, :func:`record_error` and :func:`expected_exceptions`: an
  error on the span, its type and message kept in the call's own record so that span
  limits never cut them (:func:`record_exception` keeps them without deciding the
  outcome), or, for an exception the entrypoint declares as expected, the
  ``expected_error_type`` and ``expected_error_message`` of an ``ok`` outcome.
* :func:`configured_service_name`: ``EVENTLOG_SERVICE_NAME`` when set; the framework
  names the service otherwise (Flask's import name, Celery's main name).
* :func:`propagated_context` reads the trace context of an incoming call;
  :func:`inject_call_context` writes the current call's stack and trace context into
  the headers of an outgoing one.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
import traceback
from collections.abc import Callable, Mapping, Set
from contextvars import Token
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry import context, propagate, trace
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, Context
from opentelemetry.trace import Span, Status, StatusCode

from eventlog_instrument.calls import CallIdentity, set_call_data, set_call_error
from eventlog_instrument.lifecycle import open_calls
from eventlog_instrument.masking import redact
from eventlog_instrument.settings import DEFAULT_SERVICE_NAME, Settings

_logger = logging.getLogger(__name__)
_P = ParamSpec("_P")
_R = TypeVar("_R")

FAILURE_LOG_INTERVAL = 10.0
"""Seconds between two warnings about the same failing step."""
MAX_LOGGED_MESSAGE = 300
"""Characters of an error's message kept in its warning."""


def guarded(action: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R | None]]:
    """Decorate a step of instrumentation (``action`` says what it does, "start the span
    of a task") so that it never raises: on an error it returns ``None``, and the
    failure is reported (see the module's docs).

    Applied where the step is defined, so a call costs one plain ``try`` and a frame. A
    step of two or three plain positional parameters (a method and one or two
    arguments, every per-request step) gets a guard of the same parameters: forwarding
    ``*args, **kwargs`` would cost three times as much on every request.
    """

    def decorate(step: Callable[_P, _R]) -> Callable[_P, _R | None]:
        arity = _plain_arity(step)
        guard: Callable[..., _R | None]
        if arity == 2:

            def guard(first: Any, second: Any) -> _R | None:
                try:
                    return step(first, second)  # type: ignore[call-arg]
                except Exception as error:
                    report_failure(action, error)
                    return None

        elif arity == 3:

            def guard(first: Any, second: Any, third: Any) -> _R | None:
                try:
                    return step(first, second, third)  # type: ignore[call-arg]
                except Exception as error:
                    report_failure(action, error)
                    return None

        else:

            def guard(*args: Any, **kwargs: Any) -> _R | None:
                try:
                    return step(*args, **kwargs)
                except Exception as error:
                    report_failure(action, error)
                    return None

        return cast(Callable[_P, _R | None], functools.wraps(step)(guard))

    return decorate


def _plain_arity(step: Callable[..., Any]) -> int | None:
    """How many parameters ``step`` has when all are positional without defaults."""
    parameters = inspect.signature(step).parameters.values()
    if all(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty for p in parameters):
        return len(parameters)
    return None


class _FailureLog:
    """When each step last logged a failure, and how many it did not log since."""

    def __init__(self) -> None:
        self.last_logged: dict[str, float] = {}
        self.unlogged: dict[str, int] = {}


_failures = _FailureLog()


def report_failure(action: str, error: BaseException) -> None:
    """Log that the package could not ``action``: at most once every 10 s per action.

    Never raises: it runs inside the application's call.
    """
    try:
        now = time.monotonic()
        last = _failures.last_logged.get(action)
        if last is not None and now - last < FAILURE_LOG_INTERVAL:
            _failures.unlogged[action] = _failures.unlogged.get(action, 0) + 1
            return
        _failures.last_logged[action] = now
        unlogged = _failures.unlogged.pop(action, 0)
        since = f" ({unlogged} more since the last warning)" if unlogged else ""
        _logger.warning(
            "eventlog_instrument could not %s; the application is unaffected: %s%s",
            action, describe(error), since,
        )
        if _logger.isEnabledFor(logging.DEBUG):
            frames = "".join(traceback.format_tb(error.__traceback__))
            _logger.debug("eventlog_instrument: where it failed:\n%s", frames)
    except Exception:  # a logging handler failing must not reach the application either
        pass


def describe(error: BaseException) -> str:
    """``"Type: message"`` on one line, credentials masked, cut at ``MAX_LOGGED_MESSAGE``."""
    try:
        message = " ".join(str(error).split())
    except Exception:
        message = "(its message cannot be shown)"
    if len(message) > MAX_LOGGED_MESSAGE:
        message = message[:MAX_LOGGED_MESSAGE] + "..."
    return f"{type(error).__name__}: {redact(message)}"


suppressed: Callable[[], object] = functools.partial(
    context.get_value, _SUPPRESS_INSTRUMENTATION_KEY
)
"""Whether OpenTelemetry instrumentation is suppressed here (by an exporter, say): a
true value when it is. A partial, so the check adds no Python frame to a request."""


def make_current(span: Span) -> Token[Context]:
    """Make ``span`` the current span until the token is detached."""
    return context.attach(trace.set_span_in_context(span))


call_opened = open_calls.started
"""Count a call open (exit waits for it before flushing)."""
call_closed = open_calls.ended
"""Count a call closed: every :func:`call_opened` has one, whatever failed."""


def begin_call(span: Span) -> Token[Context]:
    """Make the call's ``span`` current and count the call open."""
    token = make_current(span)
    call_opened()
    return token


def end_call(span: Span, token: Token[Context] | None = None) -> None:
    """Detach ``token`` (when the span is still current), end the span, and count the
    call closed, even when ending it fails."""
    try:
        if token is not None:
            context.detach(token)
        span.end()
    finally:
        call_closed()


def record_error(span: Span, error: BaseException) -> None:
    """The call failed with ``error``: its outcome is ``error``, with its type and message."""
    error_type, message = record_exception(span, error)
    span.set_status(Status(StatusCode.ERROR, f"{error_type}: {message}"))


def record_exception(span: Span, error: BaseException) -> tuple[str, str]:
    """Keep ``error``'s type and message in the call's record, where the envelope reads
    them whatever the span limits, and record it on the span for OpenTelemetry backends.

    Returns the type and message. The span's exception event failing (a ``__str__`` that
    raises, say) is reported, and the call keeps its error all the same.
    """
    error_type = type(error).__name__
    try:
        message = str(error)
    except Exception:
        message = f"(the message of this {error_type} cannot be shown)"
    set_call_error(span, error_type, message)
    try:
        span.record_exception(error)
    except Exception as failure:
        report_failure("record an exception on its span", failure)
    return error_type, message


def record_outcome(
    span: Span, error: BaseException, expected: tuple[type[BaseException], ...]
) -> None:
    """The call raised ``error``; an instance of ``expected`` leaves the outcome ``ok``
    with ``expected_error_type`` and ``expected_error_message`` in ``data``."""
    if expected and isinstance(error, expected):
        set_call_data(span, "expected_error_type", type(error).__name__)
        set_call_data(span, "expected_error_message", str(error))
    else:
        record_error(span, error)


def expected_exceptions(declared: object) -> tuple[type[BaseException], ...]:
    """The exception classes an entrypoint declares as expected (Celery's ``throws``,
    Nameko's ``expected_exceptions``): one class, a tuple or list of them, or nothing.
    Anything else in the declaration is ignored."""
    if isinstance(declared, type):
        declared = (declared,)
    if not isinstance(declared, (tuple, list)):
        return ()
    return tuple(
        kind for kind in declared if isinstance(kind, type) and issubclass(kind, BaseException)
    )


def configured_service_name(settings: Settings) -> str | None:
    """``EVENTLOG_SERVICE_NAME`` when it is set; ``None`` when the framework names the
    service (Nameko always does, by the service's ``name``)."""
    service_name = settings.service_name
    return None if service_name == DEFAULT_SERVICE_NAME else service_name


NEW_TRACE = Context()
"""The parent context of a call that came without trace headers: a trace of its own."""


def propagated_context(
    carrier: Mapping[str, Any], fields: Set[str], otherwise: Context | None
) -> Context | None:
    """The trace context the global propagator finds in ``carrier``, or ``otherwise``
    when none of its ``fields`` (:func:`~eventlog_instrument.fastpath.propagation_fields`)
    came, or they are malformed.

    Extracting from a carrier without them costs several µs a call for nothing. Only
    text values are offered to the propagator (a task header can hold an int, say), and
    a propagator that fails on what it is given starts a fresh trace: the headers came
    from outside, and a malformed one must never cost the call its span.
    """
    if carrier.keys().isdisjoint(fields):
        return otherwise
    text_fields = {key: carrier[key] for key in fields if type(carrier.get(key)) is str}
    if not text_fields:
        return otherwise
    try:
        return propagate.extract(text_fields)
    except Exception:
        _logger.debug("eventlog_instrument: ignored malformed trace headers", exc_info=True)
        return otherwise


def inject_call_context(
    carrier: dict[str, Any], stack_key: str, call: CallIdentity | None
) -> None:
    """Put ``call``'s stack in ``carrier`` as ``stack_key`` (when there is a call) and
    the current trace context as the propagator's headers (``traceparent``, ...)."""
    if call is not None:
        carrier[stack_key] = list(call.call_stack)
    propagate.inject(carrier)
