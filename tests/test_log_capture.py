"""Log capture in one process, with the memory exporter: the rules of data.logs, the
record attributes, and that instrument()/uninstrument() leave logging as it was."""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import threading
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace

from eventlog_instrument import EventLogInstrumentor, dispatch_event
from eventlog_instrument.settings import SettingsError, load_settings
from tests.support.spans import instrumented_call


def call(entrypoint: str = "work") -> Any:
    return instrumented_call("logsvc", entrypoint)


@pytest.fixture
def log() -> logging.Logger:
    logger = logging.getLogger(f"app.{uuid.uuid4().hex[:8]}")
    logger.setLevel(logging.DEBUG)
    return logger


def fired(memory, count: int = 1) -> list[dict]:
    return [e for e in memory.wait_for(count) if e["event_type"] == "entrypoint_fired"]


def test_records_at_or_above_the_level_in_emission_order(pipeline, log):
    memory = pipeline()
    with call():
        log.info("not kept at WARNING")
        log.warning("low stock for %s", "teapot")
        try:
            raise ValueError("bad input")
        except ValueError:
            log.error("order failed", exc_info=True)
    [event] = fired(memory)
    logs = event["data"]["logs"]
    assert [{k: v for k, v in r.items() if k != "offset_ms"} for r in logs] == [
        {"level": "WARNING", "logger": log.name, "message": "low stock for teapot"},
        {"level": "ERROR", "logger": log.name, "message": "order failed",
         "error_type": "ValueError", "error_message": "bad input"},
    ]
    assert 0 <= logs[0]["offset_ms"] <= logs[1]["offset_ms"] <= event["data"]["duration_ms"]
    assert "logs_dropped" not in event["data"]


def test_nothing_logged_means_no_logs_key(pipeline, log):
    memory = pipeline()
    with call():
        log.info("below the level")
    [event] = fired(memory)
    assert "logs" not in event["data"] and "logs_dropped" not in event["data"]


def test_the_applications_logger_level_wins_and_propagate_false_is_captured(pipeline, log):
    memory = pipeline(capture_log_level="DEBUG")
    quiet = logging.getLogger(log.name + ".quiet")
    quiet.setLevel(logging.ERROR)
    private = logging.getLogger(log.name + ".private")
    private.propagate = False
    stream = io.StringIO()
    private.addHandler(logging.StreamHandler(stream))
    with call():
        quiet.warning("filtered out by its logger")
        private.warning("kept by its own handler")
        log.debug("debug kept at DEBUG")
    [event] = fired(memory)
    assert [r["message"] for r in event["data"]["logs"]] == [
        "kept by its own handler", "debug kept at DEBUG"]
    assert stream.getvalue() == "kept by its own handler\n"


def test_first_records_kept_the_rest_counted(pipeline, log):
    memory = pipeline(capture_log_max_records=3)
    with call():
        for number in range(10):
            log.warning("warning %d", number)
    [event] = fired(memory)
    assert [r["message"] for r in event["data"]["logs"]] == ["warning 0", "warning 1", "warning 2"]
    assert event["data"]["logs_dropped"] == 7


def test_records_cut_to_fit_the_event_are_counted_as_dropped(pipeline, log):
    memory = pipeline(capture_log_max_records=20, max_event_bytes=3000)
    with call():
        for number in range(25):
            log.warning("%02d %s", number, "y" * 300)
    [event] = fired(memory)
    kept = event["data"]["logs"]
    assert 0 < len(kept) < 20, "the records were cut to fit 3,000 bytes"
    assert [r["message"][:2] for r in kept] == [f"{n:02d}" for n in range(len(kept))]
    assert event["data"]["logs_dropped"] == 25 - len(kept)
    assert "data.logs" in event["data"]["_truncated"]


def test_messages_are_cut_and_scrubbed(pipeline, log):
    memory = pipeline(max_value_length=40)
    with call():
        log.warning("connect amqp://app:s3cret@rabbit// then Bearer abc.def")
        log.warning("x" * 5000)
    [event] = fired(memory)
    first, second = event["data"]["logs"]
    assert "s3cret" not in first["message"] and "abc.def" not in first["message"]
    assert second["message"] == "x" * 40
    assert "data.logs[1].message" in event["data"]["_truncated"]


def test_records_of_another_thread_or_outside_a_call_are_not_kept(pipeline, log):
    memory = pipeline()
    log.warning("before any call")
    done = threading.Event()
    started = threading.Event()

    def elsewhere() -> None:
        started.wait(5)
        log.warning("another thread, no call")
        done.set()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    with call():
        started.set()
        assert done.wait(5)
        log.warning("mine")
    thread.join()
    [event] = fired(memory)
    assert [r["message"] for r in event["data"]["logs"]] == ["mine"]


def test_asyncio_tasks_the_call_creates_log_into_it(pipeline, log):
    memory = pipeline()

    async def child(number: int) -> None:
        await asyncio.sleep(0)
        log.warning("task %d", number)

    async def main() -> None:
        await asyncio.gather(child(1), child(2))

    with call():
        asyncio.run(main())
    [event] = fired(memory)
    assert sorted(r["message"] for r in event["data"]["logs"]) == ["task 1", "task 2"]


def test_manual_events_are_not_duplicated_into_logs(pipeline, log):
    memory = pipeline(capture_log_level="DEBUG")
    with call():
        dispatch_event("order_placed", {"id": 7})
        log.warning("placed")
    events = memory.wait_for(2)
    [manual] = [e for e in events if e["event_type"] == "order_placed"]
    [event] = [e for e in events if e["event_type"] == "entrypoint_fired"]
    assert manual["data"] == {"id": 7}
    assert [r["message"] for r in event["data"]["logs"]] == ["placed"]


def test_every_record_carries_the_call_ids_and_empty_ones_outside(pipeline, log):
    pipeline()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log.addHandler(Keep())
    log.info("outside")
    with call() as call_id:
        log.info("inside")
        span_context = trace.get_current_span().get_span_context()
    made = logging.makeLogRecord({"msg": "made by hand"})
    outside, inside = records
    assert (outside.eventlog_call_id, outside.eventlog_trace_id, outside.eventlog_span_id) == ("", "", "")
    assert inside.eventlog_call_id == call_id
    assert inside.eventlog_trace_id == format(span_context.trace_id, "032x")
    assert inside.eventlog_span_id == format(span_context.span_id, "016x")
    assert made.eventlog_call_id == ""


def test_a_users_extra_with_the_same_names_wins_and_never_raises(pipeline, log):
    pipeline()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(eventlog_call_id)s|%(eventlog_span_id)s|%(message)s"))
    log.addHandler(handler)
    with call() as call_id:
        log.warning("mine", extra={"eventlog_call_id": "user-id", "other": 1})
        log.warning("ours")
    span_id = stream.getvalue().splitlines()[1].split("|")[1]
    assert stream.getvalue().splitlines() == [f"user-id|{span_id}|mine", f"{call_id}|{span_id}|ours"]


def test_off_captures_nothing_but_keeps_the_ids_and_uninstrument_restores_logging(pipeline, log):
    from eventlog_instrument import EventLogInstrumentor

    factory = logging.getLogRecordFactory()
    methods = (vars(logging.Logger)["callHandlers"], vars(logging.Logger)["makeRecord"])
    memory = pipeline(capture_log_level="off")
    assert vars(logging.Logger)["callHandlers"] is methods[0], "no capture hook"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(eventlog_call_id)s|%(message)s"))
    log.addHandler(handler)
    log.error("outside")
    with call() as call_id:
        log.error("not captured")
    [event] = fired(memory)
    assert "logs" not in event["data"]
    assert stream.getvalue().splitlines() == ["|outside", f"{call_id}|not captured"]
    EventLogInstrumentor().uninstrument()
    assert logging.getLogRecordFactory() is factory
    assert (vars(logging.Logger)["callHandlers"], vars(logging.Logger)["makeRecord"]) == methods

    pipeline()
    assert logging.getLogRecordFactory() is not factory
    EventLogInstrumentor().uninstrument()
    EventLogInstrumentor().uninstrument()
    assert logging.getLogRecordFactory() is factory
    assert (vars(logging.Logger)["callHandlers"], vars(logging.Logger)["makeRecord"]) == methods


def test_a_record_whose_arguments_do_not_format_never_hurts_the_app(pipeline, log):
    memory = pipeline()
    with call():
        logging.raiseExceptions, before = False, logging.raiseExceptions
        try:
            log.warning("%d items", "not a number")
        finally:
            logging.raiseExceptions = before
    [event] = fired(memory)
    assert event["data"]["logs"][0]["message"] == "%d items"


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [("capture_log_level", "loud", "DEBUG, INFO, WARNING, ERROR, CRITICAL or off"),
     ("capture_log_max_records", "-1", "a whole number from 0 to 10000")],
)
def test_bad_log_settings_name_the_variable_and_what_is_accepted(name, value, accepted):
    with pytest.raises(SettingsError) as raised:
        load_settings({f"EVENTLOG_{name.upper()}": value})
    assert str(raised.value) == f"EVENTLOG_{name.upper()}={value!r} is invalid: expected {accepted}"


def test_level_names_in_any_case():
    assert load_settings({"EVENTLOG_CAPTURE_LOG_LEVEL": "info"}).capture_log_level == logging.INFO
    assert load_settings({"EVENTLOG_CAPTURE_LOG_LEVEL": "OFF"}).capture_log_level is None


def test_hostile_messages_stay_strict_json_and_never_reach_the_app(pipeline, log):
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no text for you")

    memory = pipeline()
    with call():
        log.warning("line\r\nbreak \u00e9\u4e2d \ud800 end")
        logging.raiseExceptions, before = False, logging.raiseExceptions
        try:
            log.warning(Unprintable())
        finally:
            logging.raiseExceptions = before
        try:
            raise ValueError(Unprintable())
        except ValueError:
            log.error("bad error", exc_info=True)
    [event] = fired(memory)
    first, unprintable, second = event["data"]["logs"]
    assert first["message"] == "line\r\nbreak \u00e9\u4e2d \ufffd end"
    assert unprintable["message"] == "(the message of this record cannot be shown)"
    assert (second["error_type"], second["error_message"]) == (
        "ValueError", "(the message of this ValueError cannot be shown)")


def test_only_a_body_that_runs_the_apps_code_is_made_with_the_span_current():
    import flask

    from eventlog_instrument.instrumentors.wsgi_body import body_made

    app = flask.Flask("bodies")
    app.add_url_rule("/made", "made", lambda: "ok")
    app.add_url_rule("/streamed", "streamed", lambda: flask.Response(iter(["a", "b"])))

    def body(path: str, method: str = "GET") -> object:
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "t",
                   "SERVER_PORT": "80", "wsgi.url_scheme": "http", "QUERY_STRING": ""}
        return app(environ, lambda *args: None)

    class Hostile:
        def __getattr__(self, name: str) -> object:
            raise RuntimeError(name)

        def __iter__(self) -> Iterator[bytes]:
            return iter(())

    assert [body_made(b) for b in ([b"x"], (b"x",), body("/made"), body("/made", "HEAD"))] == [
        True] * 4
    assert [body_made(b) for b in (body("/streamed"), iter([b"x"]), Hostile())] == [False] * 3


def test_uninstrument_keeps_a_later_librarys_wrapper_and_ours_under_it_passes_through(pipeline, log):
    pipeline()
    ours = logging.Logger.callHandlers
    seen: list[str] = []

    def later_library(self, record):
        seen.append(record.getMessage())
        return ours(self, record)

    logging.Logger.callHandlers = later_library  # type: ignore[method-assign]
    try:
        EventLogInstrumentor().uninstrument()
        log.warning("after uninstrument")
        assert seen == ["after uninstrument"]
        assert logging.Logger.callHandlers is later_library
        memory = pipeline()
        with call():
            log.warning("instrumented again")
        [event] = fired(memory)
        assert [record["message"] for record in event["data"]["logs"]] == ["instrumented again"]
    finally:
        logging.Logger.callHandlers = ours  # type: ignore[method-assign]


def test_no_record_is_kept_alive_after_its_logging_call(pipeline, log):
    memory = pipeline()

    class Payload:
        pass

    log.propagate = False  # pytest's capture handler on the root keeps every record
    payload = Payload()
    alive = weakref.ref(payload)
    with call():
        log.warning("order %s", payload)
    fired(memory)
    del payload
    gc.collect()
    assert alive() is None

