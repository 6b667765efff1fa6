"""The standing hostile suite: property tests over every manual-event input and over
incoming Flask and Celery headers, plus the manual-event limits, in process.

Real servers, workers and span limits: ``test_hostile_servers.py``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventlog_instrument import dispatch_event
from tests.support.hostile import HEADER_TEXT, HEADERS, SAFE_CALL_ID, settled_count

ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=20)
"""Any code points, lone surrogates and control characters included."""
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def instrumented_once(pipeline: Any) -> Any:
    """The test's memory exporter: instrument on the first example, reuse it after."""
    if not hasattr(pipeline, "memory"):
        pipeline.memory = pipeline(service_name="fuzzed")
    return pipeline.memory


def strict_json(body: bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(body.decode("utf-8"), parse_constant=refuse)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("a\nb",), "event_type 'a\\nb' holds a control or unprintable character; accepted: printable text"),
        (("é" * 128,), "event_type is 256 bytes of UTF-8; accepted: at most 255"),
        (("e", {"text": "\ud800"}), "event_data holds text that is not valid Unicode"),
        (("e", None, {"\udfff": 1}), "metadata holds text that is not valid Unicode"),
        (("e", {"blob": "x" * 2000}), "event 'e' would be about 2,"),
    ],
)
def test_unroutable_unencodable_or_oversized_events_are_value_errors_at_the_call(pipeline, args, message):
    memory = pipeline(max_event_bytes=2000)
    with pytest.raises(ValueError) as raised:
        dispatch_event(*args)
    assert str(raised.value).startswith(message)
    dispatch_event("after", {"blob": "x" * 1000})
    assert [event["event_type"] for event in memory.wait_for(1)] == ["after"]


def test_the_size_error_names_the_setting(pipeline):
    pipeline(max_event_bytes=500)
    with pytest.raises(ValueError, match=r"over EVENTLOG_MAX_EVENT_BYTES=500: send less"):
        dispatch_event("e", None, {"m": "y" * 600})


def json_ish(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda children: st.lists(children, max_size=3)
        | st.dictionaries(ANY_TEXT | st.integers(), children, max_size=3),
        max_leaves=8,
    )


LEAVES = (st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT
          | st.binary(max_size=3) | st.sets(st.integers(), max_size=2) | st.just(object()))
MAYBE_DICT = st.none() | st.dictionaries(ANY_TEXT, json_ish(LEAVES), max_size=4) | json_ish(LEAVES)


@FUZZ
@given(calls=st.lists(st.tuples(ANY_TEXT | st.integers() | st.none(), MAYBE_DICT, MAYBE_DICT), max_size=4))
def test_every_manual_event_is_an_error_at_once_or_exactly_one_strict_json_event(pipeline, calls):
    memory = instrumented_once(pipeline)
    before = settled_count(memory)
    accepted = []
    for event_type, event_data, metadata in calls:
        try:
            dispatch_event(event_type, event_data, metadata)
        except (TypeError, ValueError):
            continue
        accepted.append(event_type)
    memory.wait_for(before + len(accepted))
    raw = memory.raw_events[before:]
    assert [event.event_type for event in raw] == accepted
    for event in raw:
        assert strict_json(event.body) == event.envelope
        assert SAFE_CALL_ID.fullmatch(event.envelope["call_id"]) or "call_id" not in event.envelope




@FUZZ
# one leading slash: the test client reads "//x" as a URL whose host is x, not as a path
@given(path=st.sampled_from(["/orders/1", "/orders/x", "/", "/%0d%0a", "/\u65e5"])
       | HEADER_TEXT.map(lambda text: "/" + text.lstrip("/")),
       headers=HEADERS)
def test_flask_answers_as_uninstrumented_with_exactly_one_safe_event(pipeline, path, headers):
    import flask
    from opentelemetry import context
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY

    memory = instrumented_once(pipeline)
    if not hasattr(pipeline, "app"):
        pipeline.app = flask.Flask("fuzzed")
        pipeline.app.get("/orders/<int:order_id>")(lambda order_id: {"id": order_id})
    client = pipeline.app.test_client()
    before = settled_count(memory)
    token = context.attach(context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        plain = client.get(path, headers=headers)
    finally:
        context.detach(token)
    instrumented = client.get(path, headers=headers)
    assert (instrumented.status, instrumented.data) == (plain.status, plain.data)
    call_id = instrumented.headers.pop("X-Call-Id")
    assert list(instrumented.headers) == list(plain.headers)
    [event] = memory.wait_for(before + 1)[before:]
    assert event["call_id"] == call_id and SAFE_CALL_ID.fullmatch(call_id)
    assert len(event["call_stack"]) <= 11 and len(",".join(event["call_stack"])) <= 2048 + len(call_id)
    assert event["entrypoint_name"] in {"<lambda>", "unmatched"}


CALL_STACK_HEADER = (st.lists(st.from_regex(r"[!-+\--~]{1,300}", fullmatch=True), max_size=20)
                     | st.lists(ANY_TEXT | st.integers(), max_size=4) | ANY_TEXT | st.integers()
                     | st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=2) | st.none())
TASK_HEADERS = st.fixed_dictionaries({}, optional={
    "eventlog_call_stack": CALL_STACK_HEADER,
    "traceparent": ANY_TEXT | st.integers() | st.lists(ANY_TEXT, max_size=2) | st.none(),
    "tracestate": ANY_TEXT | st.integers(),
})


@FUZZ
@given(top=TASK_HEADERS, nested=TASK_HEADERS, retries=st.integers(0, 3) | ANY_TEXT | st.none())
def test_celery_task_headers_never_cost_a_task_its_one_safe_event(pipeline, top, nested, retries):
    from celery import Celery, signals

    memory = instrumented_once(pipeline)
    if not hasattr(pipeline, "task"):
        def noop() -> None:
            return None

        pipeline.task = Celery("fuzzed").task(name="fuzzed.noop")(noop)
    task = pipeline.task
    before = settled_count(memory)
    task_id = f"task-{before}"
    task.push_request(id=task_id, retries=retries, headers=nested, **top)
    try:
        signals.task_prerun.send(sender=task, task_id=task_id, task=task, args=(), kwargs={})
        signals.task_postrun.send(sender=task, task_id=task_id, task=task, state="SUCCESS")
    finally:
        task.pop_request()
    [event] = memory.wait_for(before + 1)[before:]
    assert event["data"]["task_id"] == task_id and SAFE_CALL_ID.fullmatch(event["call_id"])
    stack = event["call_stack"]
    assert stack[-1] == event["call_id"] and len(stack) <= 11
    assert all(re.fullmatch(r"[!-+\--~]{1,256}", call_id) for call_id in stack)
    assert len(",".join(stack[:-1])) <= 2048
