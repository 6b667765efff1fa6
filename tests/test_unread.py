"""With no exporter, nothing reads a call's span, so it is not recorded; the call still
passes on its stack and trace context exactly as a recorded one does, and its span is
recorded again as soon as anything could read it."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import flask
import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NoOpTracerProvider, TraceFlags

from eventlog_instrument import EventLogInstrumentor
from eventlog_instrument.calls import call_span_of, current_call, new_call, start_call_span
from eventlog_instrument.events import dispatch_event
from eventlog_instrument.sampling import RECORD_EVERY_CALL
from eventlog_instrument.transport import call_headers, continued_call

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
PARENT_CALL = "browser.click.0"
app_tracer = trace.get_tracer("the.app")


@pytest.fixture
def exporting_nothing() -> Iterator[flask.Flask]:
    """Instrumented with exporter ``none``, and a Flask app whose view tells what it saw."""
    EventLogInstrumentor().instrument(exporters="none", service_name="silent")
    app = flask.Flask("silent")

    @app.get("/look")
    def look() -> Any:
        span = trace.get_current_span()
        with app_tracer.start_as_current_span("the.apps.own") as own:
            under_own = current_call()
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            own_context = own.get_span_context()
        call = current_call()
        return {
            "recording": span.is_recording(),
            "span_id": f"{span.get_span_context().span_id:016x}",
            "own_parent": f"{own.parent.span_id:016x}" if own.parent else None,
            "own_trace": f"{own_context.trace_id:032x}",
            "traceparent": carrier.get("traceparent"),
            "stack": list(call.call_stack) if call else None,
            "stack_under_own": list(under_own.call_stack) if under_own else None,
            "headers": call_headers(),
        }

    try:
        yield app
    finally:
        EventLogInstrumentor().uninstrument()


def test_a_call_is_unrecorded_and_passes_on_the_stack_and_an_unsampled_callers_flag(
    exporting_nothing,
):
    answer = exporting_nothing.test_client().get("/look", headers={
        "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN_ID}-00", "X-Call-Stack": PARENT_CALL,
    }).json
    assert answer["recording"] is False
    own_call_id = answer["stack"][-1]
    assert answer["stack"] == [PARENT_CALL, own_call_id]
    assert own_call_id.startswith("silent.look.")
    assert answer["stack_under_own"] == answer["stack"], "the app's own span is linked to the call"
    assert answer["headers"]["X-Call-Stack"] == f"{PARENT_CALL},{own_call_id}"
    # the caller did not sample: the flag travels on unchanged, in the caller's trace
    assert answer["headers"]["traceparent"] == f"00-{TRACE_ID}-{answer['span_id']}-00"
    assert answer["traceparent"].startswith(f"00-{TRACE_ID}-")
    assert answer["traceparent"].endswith("-00")
    assert answer["own_trace"] == TRACE_ID
    assert answer["own_parent"] == answer["span_id"] != CALLER_SPAN_ID


def test_a_call_without_trace_headers_starts_a_trace_flagged_as_a_recorded_one(exporting_nothing):
    recorded = TracerProvider(sampler=RECORD_EVERY_CALL).get_tracer("t").start_span("root")
    recorded_flags = f"{recorded.get_span_context().trace_flags:02x}"
    assert int(recorded_flags, 16) & TraceFlags.SAMPLED
    client = exporting_nothing.test_client()
    first, second = client.get("/look").json, client.get("/look").json
    assert first["recording"] is False
    assert first["stack"] == [first["stack"][-1]]
    for answer in (first, second):
        version, trace_id, _, flags = answer["traceparent"].split("-")
        assert (version, flags) == ("00", recorded_flags)
        assert trace_id == answer["own_trace"] != "0" * 32
    assert first["own_trace"] != second["own_trace"]


def test_flag_bits_a_recorded_call_would_drop_are_not_passed_on(exporting_nothing):
    incoming = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-ff"
    recorded = TracerProvider(sampler=RECORD_EVERY_CALL).get_tracer("t").start_span(
        "call", context=propagate.extract({"traceparent": incoming}))
    recorded_flags = f"{recorded.get_span_context().trace_flags:02x}"
    answer = exporting_nothing.test_client().get("/look", headers={"traceparent": incoming}).json
    assert answer["recording"] is False
    assert answer["headers"]["traceparent"].endswith(f"-{recorded_flags}")
    assert recorded_flags != "ff"


def test_a_library_silenced_with_a_no_op_tracer_does_not_end_the_call(exporting_nothing):
    """OpenTelemetry's no-op tracer (from API 1.31 on; 1.30's hands out the invalid
    span) hands out the current span itself when that is a ``NonRecordingSpan``, and
    its block would end it: the call's span must not be one."""
    silenced = NoOpTracerProvider().get_tracer("a.silenced.library")

    @exporting_nothing.get("/silenced")
    def silenced_block() -> Any:
        with silenced.start_as_current_span("its.own.work"):
            pass
        call = current_call()
        return {"stack": list(call.call_stack) if call else None, "headers": call_headers()}

    answer = exporting_nothing.test_client().get(
        "/silenced", headers={"X-Call-Stack": PARENT_CALL}).json
    assert answer["stack"] is not None and answer["stack"][0] == PARENT_CALL
    assert answer["headers"]["X-Call-Stack"] == ",".join(answer["stack"])


def test_code_reading_the_current_span_as_the_sdks_finds_its_fields(exporting_nothing):
    @exporting_nothing.get("/fields")
    def fields() -> Any:
        span: Any = trace.get_current_span()
        return {
            "name": span.name, "kind": span.kind.name, "attributes": dict(span.attributes),
            "context": span.context == span.get_span_context(),
            "parent": f"{span.parent.span_id:016x}", "started": span.start_time > 0,
            "ended": span.end_time, "status": span.status.status_code.name,
        }

    answer = exporting_nothing.test_client().get(
        "/fields", headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"}).json
    assert answer == {"name": "GET /fields", "kind": "SERVER", "attributes": {}, "context": True,
                      "parent": CALLER_SPAN_ID, "started": True, "ended": None,
                      "status": "UNSET"}


def test_a_celery_task_a_manual_event_and_a_continued_call_are_unrecorded_and_carry_the_stack(
    exporting_nothing, caplog,
):
    import celery

    app = celery.Celery("silent", broker="memory://")
    app.conf.task_always_eager = True
    seen: dict[str, Any] = {}

    @app.task
    def work() -> None:
        seen["task"] = trace.get_current_span().is_recording(), current_call()
        dispatch_event("noted", {"n": 1})
        with continued_call(call_headers(), service="consumer", entrypoint_protocol="Custom",
                            entrypoint_name="take"):
            seen["continued"] = trace.get_current_span().is_recording(), current_call()

    with caplog.at_level(logging.WARNING, logger="eventlog_instrument"):
        work.apply_async()
    ours = [record for record in caplog.records if record.name.startswith("eventlog_instrument")]
    assert ours == [], "a step of the package failed"
    task_recording, task_call = seen["task"]
    continued_recording, continued = seen["continued"]
    assert (task_recording, continued_recording) == (False, False)
    assert task_call.entrypoint_protocol == "CeleryTask"
    assert continued.call_stack == (*task_call.call_stack, continued.call_id)


def test_a_call_is_no_ones_after_it_ends(exporting_nothing):
    """A thread or task holding the call's span as current, once the call has ended, is
    not part of it any more (as with a recorded span, see test_call_scope)."""
    kept: list[object] = []

    @exporting_nothing.get("/keep")
    def keep() -> str:
        kept.append(trace.get_current_span())
        return "yes" if call_span_of(kept[0]) is kept[0] else "no"

    assert exporting_nothing.test_client().get("/keep").text == "yes"
    assert call_span_of(kept[0]) is None


def test_a_tracer_of_another_provider_records(exporting_nothing):
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    call = new_call("elsewhere", "Custom", "work")
    start_call_span(provider.get_tracer("other"), "work", call.attributes()).end()
    assert [span.name for span in spans.get_finished_spans()] == ["work"]


ADDED_LATER = r"""
import json
import flask
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from eventlog_instrument import EventLogInstrumentor

EventLogInstrumentor().instrument(exporters="none", service_name="late")
app = flask.Flask("late")
app.add_url_rule("/", "home", lambda: str(trace.get_current_span().is_recording()))
client = app.test_client()
before = client.get("/").text
spans = InMemorySpanExporter()
trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(spans))
after = [client.get("/").text for _ in range(2)]
print(json.dumps([before, after, [span.name for span in spans.get_finished_spans()]]))
"""


OWN_PROVIDER = r"""
import sys
import flask
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from eventlog_instrument import EventLogInstrumentor
from eventlog_instrument.sampling import RECORD_EVERY_CALL

sampler, processor = sys.argv[1:]
provider = TracerProvider(sampler=RECORD_EVERY_CALL) if sampler == "ours" else TracerProvider()
if processor == "with":
    provider.add_span_processor(SpanProcessor())
trace.set_tracer_provider(provider)
EventLogInstrumentor().instrument(exporters="none", service_name="own")
app = flask.Flask("own")
app.add_url_rule("/", "home", lambda: str(trace.get_current_span().is_recording()))
print(app.test_client().get("/").text)
"""


@pytest.mark.parametrize(("sampler", "processor", "recording"), [
    ("sdk default", "without", "True"), ("ours", "with", "True"), ("ours", "without", "False"),
])
def test_an_applications_own_provider_records_unless_it_samples_as_ours_with_no_processor(
    sampler, processor, recording,
):
    result = subprocess.run([sys.executable, "-c", OWN_PROVIDER, sampler, processor],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == recording


def test_a_span_processor_added_later_gets_every_later_call():
    result = subprocess.run([sys.executable, "-c", ADDED_LATER], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    before, after, names = json.loads(result.stdout)
    assert (before, after, names) == ("False", ["True", "True"], ["GET /", "GET /"])
