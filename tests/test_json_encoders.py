"""orjson and the standard library give the same body for every envelope, or the same error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventlog_instrument import json_body
from eventlog_instrument.json_body import encoded, standard_encoded
from eventlog_instrument.strict_json import ValueRules


class Text(str):
    """A subclass of a JSON type, which orjson would write its own way if let."""


texts = st.text(st.characters(blacklist_categories=()), max_size=12)  # surrogates too
floats = st.floats() | st.sampled_from([1e-5, -1e-7, 5e-324, 1e16, 1e-4, 0.0, -0.0, 1e22])
ints = st.integers() | st.integers(min_value=2**62, max_value=2**65).map(lambda n: n * -1)
keys = texts | st.integers() | st.booleans() | st.none() | floats
scalars = st.none() | st.booleans() | ints | floats | texts | texts.map(Text)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)


def outcome(encode: Any, envelope: dict[str, Any], *args: Any) -> tuple[Any, ...]:
    try:
        result, body = encode(envelope, *args)
    except (TypeError, ValueError) as error:
        return ("refused", type(error).__name__)
    return ("body", body, result)


def strict(body: bytes) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(body.decode("utf-8"), parse_constant=refuse)


def test_orjson_is_installed_by_default():
    assert json_body.orjson is not None


@settings(max_examples=250, deadline=None)
@given(values, st.dictionaries(texts, values, max_size=3))
def test_any_envelope_gets_the_standard_librarys_body_or_error(value, data):
    envelope = {"service_name": "orders", "value": value, "data": data}
    fast = outcome(encoded, envelope)
    assert fast == outcome(standard_encoded, envelope)
    if fast[0] == "body":
        strict(fast[1])


@settings(max_examples=250, deadline=None)
@given(st.dictionaries(texts | keys, values, max_size=4))
def test_values_made_ready_vouch_for_their_floats_rightly(metadata):
    rules = ValueRules(limit=64, budget=10_000)
    envelope = {key if isinstance(key, str) else str(key): rules.ready(value, "value")
                for key, value in metadata.items()}
    fast = outcome(encoded, envelope, rules.floats_written_alike)
    assert fast == outcome(standard_encoded, envelope)
    assert fast[0] == "body"
    assert strict(fast[1]) == fast[2]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), ("refused", "ValueError")),
        (1e-5, ("body", b'{"v":1e-05}', {"v": 1e-5})),
        (2**64, ("body", b'{"v":18446744073709551616}', {"v": 2**64})),
        ({1: "one"}, ("body", b'{"v":{"1":"one"}}', {"v": {1: "one"}})),
        ("a\ud800b", ("body", b'{"v":"a\xef\xbf\xbdb"}', {"v": "a\ufffdb"})),
    ],
    ids=["nan", "small-float", "huge-int", "int-key", "lone-surrogate"],
)
def test_what_orjson_writes_its_own_way_is_decided_by_the_standard_library(value, expected):
    assert outcome(encoded, {"v": value}) == expected


def test_without_orjson_the_standard_library_encodes(monkeypatch):
    envelope = {"service_name": "orders", "data": {"duration_ms": 0.5, "text": "é\n"}}
    monkeypatch.setattr(json_body, "orjson", None)
    assert encoded(envelope) == (envelope, '{"service_name":"orders","data":{"duration_ms":0.5,"text":"é\\n"}}'.encode())
