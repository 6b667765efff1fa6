"""The shared hook helpers: the guard that keeps the package's errors out of the
application, logged once per step every 10 seconds, one line, credentials masked."""

from __future__ import annotations

import logging

import flask
import pytest

from eventlog_instrument import calls
from eventlog_instrument.lifecycle import open_calls

SECRET = "hunter2"


def broken_call_ids(*_args: object) -> str:
    raise RuntimeError(f"cannot reach amqp://app:{SECRET}@broker// for ids\nsecond line")


def test_a_failing_hook_leaves_the_app_alone_and_logs_one_masked_line_per_step(
    pipeline, caplog, monkeypatch
):
    pipeline()
    app = flask.Flask("guarded")

    @app.get("/orders/<int:order_id>")
    def order(order_id):
        return {"id": order_id}

    monkeypatch.setattr(calls, "new_call_id", broken_call_ids)
    client = app.test_client()
    with caplog.at_level(logging.DEBUG, logger="eventlog_instrument"):
        answers = [client.get(f"/orders/{number}") for number in range(5)]

    assert [(answer.status_code, answer.json) for answer in answers] == [
        (200, {"id": number}) for number in range(5)
    ]
    warnings = [r for r in caplog.records
                if r.name.startswith("eventlog_instrument") and r.levelno >= logging.WARNING]
    # Three steps fail on every request (starting the span, recording the status, ending
    # the span); each is reported once, not once per request.
    assert len(warnings) == 3, [r.getMessage() for r in warnings]
    for record in warnings:
        message = record.getMessage()
        assert record.levelno == logging.WARNING and record.exc_info is None
        assert "\n" not in message
        assert "RuntimeError: cannot reach amqp://app:***@broker// for ids second line" in message
    assert SECRET not in caplog.text
    assert "Traceback" not in caplog.text
    assert open_calls.wait_until_none(0), "every request counted open was counted closed"


def test_the_guard_reports_a_step_once_per_interval_with_the_failures_it_skipped(
    caplog, monkeypatch
):
    from eventlog_instrument.instrumentors import hooks

    clock = [1000.0]
    monkeypatch.setattr(hooks.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(hooks, "_failures", hooks._FailureLog())

    @hooks.guarded("divide for the test")
    def divide(numerator: int, denominator: int) -> float:
        return numerator / denominator

    with caplog.at_level(logging.WARNING, logger="eventlog_instrument"):
        assert divide(1, 2) == 0.5
        assert [divide(1, 0) for _ in range(4)] == [None] * 4
        clock[0] += hooks.FAILURE_LOG_INTERVAL
        assert divide(2, 0) is None

    assert [record.getMessage() for record in caplog.records] == [
        "eventlog_instrument could not divide for the test; the application is unaffected: "
        "ZeroDivisionError: division by zero",
        "eventlog_instrument could not divide for the test; the application is unaffected: "
        "ZeroDivisionError: division by zero (3 more since the last warning)",
    ]


def test_the_guard_never_lets_a_failing_report_reach_the_caller(monkeypatch):
    from eventlog_instrument.instrumentors import hooks

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise ValueError("no text")

    @hooks.guarded("raise an unprintable error")
    def step() -> None:
        raise Unprintable

    monkeypatch.setattr(hooks, "_failures", hooks._FailureLog())
    assert step() is None
    assert hooks.describe(Unprintable()) == "Unprintable: (its message cannot be shown)"


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        (None, ()),
        ((), ()),
        (KeyError, (KeyError,)),
        ((KeyError, "not a class", ValueError), (KeyError, ValueError)),
        ([LookupError], (LookupError,)),
        (int, ()),
    ],
)
def test_expected_exceptions_accepts_what_celery_and_nameko_declare(declared, expected):
    from eventlog_instrument.instrumentors.hooks import expected_exceptions

    assert expected_exceptions(declared) == expected


def test_fastpath_reset_forgets_every_cache():
    from eventlog_instrument import fastpath

    fastpath.propagation_fields()
    fastpath.format_timestamp(1_497_275_296_000_000_000)
    fastpath.environ_keys(frozenset({"traceparent"}))
    fastpath.reset()
    assert fastpath._propagator_fields == (None, frozenset())
    assert fastpath._last_second == (None, "")
    assert fastpath._last_resource == (None, None)
    assert fastpath.environ_keys.cache_info().currsize == 0
    assert fastpath.format_timestamp(1_497_275_296_000_000_000) == "2017-06-12T13:48:16+00:00"
