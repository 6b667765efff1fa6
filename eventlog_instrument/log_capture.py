"""The application's ``logging`` records: kept with the call that logged them, and the
call's ids on every record.

Installed by ``instrument()``, removed by ``uninstrument()``; the call ids on records do
not depend on capture, so an application whose format string uses them keeps working
when capture is turned off:

* ``logging.Logger.callHandlers`` is wrapped, unless ``EVENTLOG_CAPTURE_LOG_LEVEL`` is
  ``off``: it is called once per record that passed
  the logger's own level and filters, on the logger that made it, before the record
  walks up to the handlers. So the application's levels decide what is captured, a
  logger with ``propagate=False`` is captured too, and the handlers receive exactly
  what they received before. A record at or above the level, logged while a call's span
  is current (its thread, the greenthreads it spawns, the asyncio tasks it creates,
  since each starts with the spawner's context), is added to the call's record
  (:mod:`eventlog_instrument.log_records`), the first ``EVENTLOG_CAPTURE_LOG_MAX_RECORDS``
  kept and the rest counted. The package's own loggers (``eventlog_instrument.*``) are
  never captured, so a failing capture cannot feed itself.
* the log record factory is wrapped: every ``LogRecord`` gets ``eventlog_call_id``,
  ``eventlog_trace_id`` and ``eventlog_span_id`` (hex), empty strings outside a call, so
  ``%(eventlog_call_id)s`` works in any format string.
* ``logging.Logger.makeRecord`` is wrapped so that a user's ``extra={"eventlog_call_id":
  ...}`` wins instead of raising the ``KeyError`` logging raises for an ``extra`` key
  the record already has.

Nothing here raises into the application: a step that fails is reported by
:func:`~eventlog_instrument.instrumentors.hooks.guarded` and the record goes on as it
would have. ``uninstrument()`` puts the original methods back and the previous record
factory, unless another library has wrapped ours since (then ours only passes through).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import wrapt
from opentelemetry import trace

from eventlog_instrument import constants as c
from eventlog_instrument.calls import call_span_of, reserved_record
from eventlog_instrument.instrumentors.hooks import guarded
from eventlog_instrument.log_records import LOGS_KEY, CapturedLogs, LogEntry

if TYPE_CHECKING:
    from eventlog_instrument.settings import Settings

CALL_ID_ATTRIBUTE = "eventlog_call_id"
TRACE_ID_ATTRIBUTE = "eventlog_trace_id"
SPAN_ID_ATTRIBUTE = "eventlog_span_id"
RECORD_ATTRIBUTES = frozenset((CALL_ID_ATTRIBUTE, TRACE_ID_ATTRIBUTE, SPAN_ID_ATTRIBUTE))
_IDS_KEY = c.RESERVED_PREFIX + "log_ids"
"""Record key of the call's three ids as text, made at its first log record."""
_NO_IDS = ("", "", "")
_OWN_LOGGERS = "eventlog_instrument"
_SCRUB_MARGIN = 1024
"""Characters kept past ``EVENTLOG_MAX_VALUE_LENGTH``, so a credential across the limit
is still scrubbed when the event is built."""
_WRAPPED = ("callHandlers", "makeRecord")
_CORRELATION_ONLY = ("makeRecord",)


class _State:
    """What :func:`install` set up, one per process."""

    level: ClassVar[int] = logging.WARNING
    most: ClassVar[int] = 50
    keep: ClassVar[int] = 4096 + _SCRUB_MARGIN
    active: ClassVar[bool] = False
    capturing: ClassVar[bool] = False
    wrappers: ClassVar[dict[str, tuple[Any, Any]]] = {}
    """Method name to (original, our wrapper), while ours is on ``Logger``: under another
    library's wrapper it stays after :func:`uninstall`, passing through."""
    factory: ClassVar[Callable[..., logging.LogRecord] | None] = None
    previous_factory: ClassVar[Callable[..., logging.LogRecord] | None] = None


def install(settings: Settings) -> None:
    """Add the call ids to records, and capture them unless the level is ``off``."""
    if _State.active:
        return
    level = settings.capture_log_level
    if level is not None:
        _State.level = level
    _State.most = settings.capture_log_max_records
    _State.keep = settings.max_value_length + _SCRUB_MARGIN
    hooks = {"callHandlers": _call_handlers, "makeRecord": _make_record}
    for name in _WRAPPED if level is not None else _CORRELATION_ONLY:
        if name not in _State.wrappers:  # else ours is still there, under another's
            original = vars(logging.Logger)[name]
            wrapper = wrapt.FunctionWrapper(original, hooks[name])
            _State.wrappers[name] = (original, wrapper)
            setattr(logging.Logger, name, wrapper)
    _State.capturing = level is not None
    _State.active = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _State.factory is factory:
            call_id, trace_id, span_id = _ids(record) or _NO_IDS
            fields = record.__dict__
            fields[CALL_ID_ATTRIBUTE] = call_id
            fields[TRACE_ID_ATTRIBUTE] = trace_id
            fields[SPAN_ID_ATTRIBUTE] = span_id
        return record

    _State.previous_factory, _State.factory = previous, factory
    logging.setLogRecordFactory(factory)


def uninstall() -> None:
    """Put back what :func:`install` changed; a method another library wrapped since
    keeps ours under its wrapper, passing through, so theirs stays in force."""
    for name, (original, wrapper) in list(_State.wrappers.items()):
        if vars(logging.Logger).get(name) is wrapper:
            setattr(logging.Logger, name, original)
            del _State.wrappers[name]
    _State.active = _State.capturing = False
    if _State.factory is not None and logging.getLogRecordFactory() is _State.factory:
        assert _State.previous_factory is not None
        logging.setLogRecordFactory(_State.previous_factory)
    _State.factory = _State.previous_factory = None
    global _last_made
    _last_made = _NOTHING_MADE


def capturing() -> bool:
    """Whether records are being captured (the level is not ``off``)."""
    return _State.capturing


def _call_handlers(wrapped: Any, logger: Any, args: Any, kwargs: Any) -> Any:
    if not _State.capturing:
        return wrapped(*args, **kwargs)
    record = args[0] if args else kwargs.get("record")
    if getattr(record, "levelno", 0) >= _State.level:
        _capture(logger, record)
    global _last_made
    _last_made = _NOTHING_MADE  # the record, its arguments and traceback are the app's
    return wrapped(*args, **kwargs)


@guarded("capture a log record for its call")
def _capture(logger: logging.Logger, record: logging.LogRecord) -> None:
    if record.name.startswith(_OWN_LOGGERS):
        return
    made, span, reserved = _last_made
    if made is not record:  # made by hand, or by another thread in between
        span = call_span_of(trace.get_current_span())
        reserved = reserved_record(span)
    if (
        reserved is None
        or _CALL_ID not in reserved
        or reserved.get(_AUTO_CAPTURE) is False
        or not span.is_recording()
    ):
        return
    captured = reserved.get(LOGS_KEY)
    if captured is None:
        started_ns = getattr(span, "start_time", None) or 0
        captured = reserved.setdefault(LOGS_KEY, CapturedLogs(started_ns, _State.most))
    captured.add(_entry(record))


_CALL_ID = c.ATTR_CALL_ID
_AUTO_CAPTURE = c.ATTR_AUTO_CAPTURE


def _entry(record: logging.LogRecord) -> LogEntry:
    """What is kept of ``record``, made now since its arguments may change after the
    logging call; the rest (the offset, scrubbing) is left to the export thread."""
    try:
        message = record.getMessage()
    except Exception:  # the application's own handlers report its bad arguments
        try:
            message = str(record.msg)
        except Exception:
            message = "(the message of this record cannot be shown)"
    keep = _State.keep
    error_type = error_message = None
    exc_info = record.exc_info
    if exc_info and exc_info[1] is not None:
        error = exc_info[1]
        error_type = type(error).__name__
        try:
            error_message = str(error)[:keep]
        except Exception:
            error_message = f"(the message of this {error_type} cannot be shown)"
    return (record.levelname, record.name, message[:keep], record.created, error_type,
            error_message)


_NOTHING_MADE: tuple[object, Any, dict[str, Any] | None] = (None, None, None)
_last_made = _NOTHING_MADE
"""The record the factory made last, with the span and call record current then: its
capture, a moment later in the same logging call, does not look them up again."""


@guarded("read the call ids of a log record")
def _ids(record: logging.LogRecord) -> tuple[str, str, str] | None:
    global _last_made
    span = call_span_of(trace.get_current_span())
    reserved = reserved_record(span)
    if _State.capturing:
        _last_made = (record, span, reserved)
    if reserved is None:
        return None
    ids: tuple[str, str, str] | None = reserved.get(_IDS_KEY)
    if ids is None:
        call_id = reserved.get(c.ATTR_CALL_ID)
        if call_id is None:
            return None
        context = span.get_span_context()
        ids = (str(call_id), format(context.trace_id, "032x"), format(context.span_id, "016x"))
        reserved[_IDS_KEY] = ids
    return ids


def _make_record(wrapped: Any, logger: Any, args: Any, kwargs: Any) -> Any:
    """``makeRecord(name, level, fn, lno, msg, args, exc_info, func, extra, sinfo)``."""
    if not _State.active:
        return wrapped(*args, **kwargs)
    positional = len(args) > _EXTRA_INDEX
    extra = args[_EXTRA_INDEX] if positional else kwargs.get("extra")
    if not extra or not isinstance(extra, Mapping) or RECORD_ATTRIBUTES.isdisjoint(extra):
        return wrapped(*args, **kwargs)
    own = {key: extra[key] for key in RECORD_ATTRIBUTES if key in extra}
    rest = {key: value for key, value in extra.items() if key not in RECORD_ATTRIBUTES}
    if positional:
        args = (*args[:_EXTRA_INDEX], rest, *args[_EXTRA_INDEX + 1 :])
    else:
        kwargs = {**kwargs, "extra": rest}
    record = wrapped(*args, **kwargs)
    record.__dict__.update(own)
    return record


_EXTRA_INDEX = 8
"""Position of ``extra`` among ``makeRecord``'s arguments, as ``Logger._log`` passes them."""
