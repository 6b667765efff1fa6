"""Secrets in key=value / key: value pairs of free text are masked (exception messages,
log messages), in time linear in the text whatever it holds."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from eventlog_instrument.calls import new_call, start_call_span
from eventlog_instrument.instrumentors.hooks import begin_call, end_call
from eventlog_instrument.scrubbing import DEFAULT_SCRUBBER


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("db connect failed: postgres://admin:hunter2@db/prod password=hunter2",
         "db connect failed: postgres://admin:***@db/prod password=***"),
        ("login failed for bob PassWord=Hunter2", "login failed for bob PassWord=***"),
        ('{"password": "hun ter2", "user": "bob"}', '{"password": ***, "user": "bob"}'),
        ("{'API_KEY': 'k1', 'x': 1}", "{'API_KEY': ***, 'x': 1}"),
        ("GET /x?token=abc&page=2", "GET /x?token=***&page=2"),
        ("x-api-key: zzz, other: 1", "x-api-key: ***, other: 1"),
        ("aws_secret_access_key = AKIA/x+y", "aws_secret_access_key = ***"),
        ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
        ('DB_PASSWORD="never closed and more', "DB_PASSWORD=***"),
        ("İ pwd=x İ client_secret: y", "İ pwd=*** İ client_secret: ***"),
        ("password is wrong; time: 12:30", "password is wrong; time: 12:30"),
    ],
)
def test_values_of_secret_keys_are_masked(text, scrubbed):
    assert DEFAULT_SCRUBBER.scrub(text) == scrubbed


@pytest.mark.parametrize(
    "hostile",
    ["token" * 200_000, "=:" * 500_000, 'password: "' * 90_000, "token=1 " * 120_000,
     "a_" * 500_000, "İ" * 100_000 + "secret=x\r\n" * 50_000, "token" + " " * 8 + "x" * 999_000],
)
def test_a_megabyte_of_hostile_text_is_scrubbed_and_kept_whole_elsewhere(hostile):
    """Linear: a quadratic scan of one of these would take minutes, not the moment this
    test takes. No secret value survives; text that is not one is kept."""
    scrubbed = DEFAULT_SCRUBBER.scrub(hostile)
    assert "token=1" not in scrubbed and "secret=x" not in scrubbed
    if not any(key in hostile for key in ("token", "secret", "password")):
        assert scrubbed == hostile


def test_secrets_in_exception_and_log_messages_do_not_leave(pipeline):
    logger = logging.getLogger(f"app.{uuid.uuid4().hex[:8]}")
    logger.propagate = False
    memory = pipeline()
    identity = new_call("scrubsvc", "Rpc", "work")
    span = start_call_span(trace.get_tracer("tests"), "work", identity.attributes(),
                           kind=SpanKind.SERVER)
    token = begin_call(span)
    try:
        logger.warning("login failed for %s password=%s", "bob", "hunter2")
        span.record_exception(ConnectionError("postgres://admin:hunter2@db/prod pwd=hunter2"))
        span.set_status(trace.Status(trace.StatusCode.ERROR))
    finally:
        end_call(span, token)
    [event] = [e for e in memory.wait_for(1) if e["event_type"] == "entrypoint_fired"]
    assert event["data"]["logs"][0]["message"] == "login failed for bob password=***"
    assert "hunter2" not in json.dumps(event)
