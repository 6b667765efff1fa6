"""The manual-event API: the seed's call shape, clear errors before anything is queued."""

from __future__ import annotations

import pytest

from eventlog_instrument import dispatch_event


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((None,), TypeError, "event_type must be a non-empty str, got None"),
        (("",), TypeError, "event_type must be a non-empty str, got ''"),
        (("e", [1, 2]), TypeError, "event_data must be a dict of JSON-serialisable data or None, got list"),
        (("e", "text"), TypeError, "event_data must be a dict of JSON-serialisable data or None, got str"),
        (("e", None, ("k", "v")), TypeError, "metadata must be a dict of JSON-serialisable data or None, got tuple"),
        (("e", {"when": object()}), TypeError,
         "event_data['when'] is of type object, which is not JSON-serialisable "
         "(accepted: dict, list, tuple, str, int, float, bool, None)"),
        (("e", {"tags": [1, {"a"}]}), TypeError,
         "event_data['tags'][1] is of type set, which is not JSON-serialisable "
         "(accepted: dict, list, tuple, str, int, float, bool, None)"),
        (("e", None, {"raw": b"\x00"}), TypeError,
         "metadata['raw'] is of type bytes, which is not JSON-serialisable "
         "(accepted: dict, list, tuple, str, int, float, bool, None)"),
        (("e", {1: "one"}), TypeError, "event_data has the key 1 of type int; JSON keys must be str"),
        (("e", None, {"nested": {(1, 2): "x"}}), TypeError,
         "metadata['nested'] has the key (1, 2) of type tuple; JSON keys must be str"),
        (("e", {"score": float("nan")}), ValueError, "event_data['score'] is nan, which JSON cannot hold"),
        (("e", None, {"limits": [float("-inf")]}), ValueError,
         "metadata['limits'][0] is -inf, which JSON cannot hold"),
    ],
)
def test_bad_arguments_raise_a_clear_error_and_queue_nothing(pipeline, args, error, message):
    memory = pipeline()
    with pytest.raises(error) as raised:
        dispatch_event(*args)
    assert str(raised.value) == message
    dispatch_event("after_the_error")
    assert [event["event_type"] for event in memory.wait_for(1)] == ["after_the_error"]


def test_a_cycle_is_a_value_error(pipeline):
    pipeline()
    data: dict = {"a": []}
    data["a"].append(data)
    with pytest.raises(ValueError) as raised:
        dispatch_event("e", data)
    assert str(raised.value) == "event_data['a'][0] refers back to a container that holds it (a cycle)"


def test_the_four_call_shapes_of_the_seed(pipeline):
    memory = pipeline()
    dispatch_event("a")
    dispatch_event("b", {"x": 1})
    dispatch_event("c", {"x": 1}, {"m": 2})
    dispatch_event(event_type="d", event_data=None, metadata={"m": 3})
    events = memory.wait_for(4)
    assert [(e["event_type"], e["data"], e.get("m")) for e in events] == [
        ("a", {}, None), ("b", {"x": 1}, None), ("c", {"x": 1}, 2), ("d", {}, 3),
    ]


def test_shared_values_that_are_not_cycles_are_accepted(pipeline):
    memory = pipeline()
    shared = {"v": 1}
    dispatch_event("e", {"first": shared, "second": shared, "list": [shared, shared]})
    assert memory.wait_for(1)[0]["data"]["list"] == [{"v": 1}, {"v": 1}]


def test_the_callers_dicts_can_change_after_the_call(pipeline):
    memory = pipeline()
    data = {"n": 1}
    dispatch_event("e", data)
    data["n"] = 2
    assert memory.wait_for(1)[0]["data"] == {"n": 1}


def test_without_instrumentation_the_call_is_checked_and_harmless():
    with pytest.raises(TypeError):
        dispatch_event("e", [1])
    dispatch_event("e", {"ok": True})
