"""An envelope's JSON body: strict, compact, UTF-8, from orjson where it writes the same.

Once its values follow :mod:`eventlog_instrument.strict_json`'s rules, an envelope is
encoded as compact JSON with ``allow_nan=False``, the last check that nothing a strict
JSON reader refuses goes out, and a text holding a lone UTF-16
surrogate (legal in a Python ``str``, not in UTF-8) has it replaced by U+FFFD.

Where ``orjson`` is installed, :func:`encoded` takes its bytes when they are exactly the
standard library's, which is nearly always, for a fifth of the cost. orjson refuses
what the standard encoder would refuse or write differently (a non-text key, an int
past 64 bits, a lone surrogate, a subclass of a JSON type, nesting past 254 levels),
and writes ``null`` for NaN and infinities, ``1e-7`` for ``1e-07`` and ``0.00001`` for
``1e-05``: a body holding any of those is encoded again by the standard library, which
decides. Values of other types (``UUID``, ``Enum``, ``datetime``) never reach the
encoder: the rules make them text, and manual events' data arrives parsed from
JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

try:
    import orjson
except ImportError:  # no wheel for this interpreter: the standard library encodes
    orjson = None  # type: ignore[assignment]


_JSON_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), check_circular=False, allow_nan=False
)
"""Envelopes hold no cycles: captured values are walked, manual data was checked on dispatch."""
_C_ENCODER = getattr(json.encoder, "c_make_encoder", None)
_encode_chunks = (
    _C_ENCODER(None, _JSON_ENCODER.default, json.encoder.encode_basestring, None, ":", ",",
               False, False, False)
    if _C_ENCODER is not None
    else None
)
"""``_JSON_ENCODER``'s C encoder, made once: ``encode()`` makes a new one per envelope,
a fifth of the JSON's cost. ``None`` where the interpreter has no C accelerator."""


def envelope_json(envelope: Any) -> str:
    """Strict compact JSON, non-ASCII characters kept as they are.

    Raises ``ValueError`` for a float JSON cannot hold, ``TypeError`` for a value that
    is not JSON data.
    """
    if _encode_chunks is None:
        return _JSON_ENCODER.encode(envelope)
    return "".join(_encode_chunks(envelope, 0))


def json_size(value: Any) -> int:
    """Bytes of ``value``'s JSON in UTF-8 (a lone surrogate counted as the 3 of U+FFFD)."""
    return len(envelope_json(value).encode("utf-8", "surrogatepass"))


_ORJSON_OPTIONS = (
    0
    if orjson is None
    else orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
"""What orjson would write its own way is passed to its ``default``, which has none: it
refuses, and the standard library decides."""
_SHORT_EXPONENT = re.compile(rb"e-[0-9][,}\]]")


def _maybe_not_the_standard_way(body: bytes) -> bool:
    """Whether orjson's ``body`` may differ from the standard library's: it holds
    ``null`` (NaN and infinities are written so), an exponent of one digit (``1e-7``,
    not ``1e-07``) or a float under 1e-4 in full (``0.00001``, not ``1e-05``). A text
    that merely looks so costs a second encoding, nothing else. Substring tests first:
    a regular expression over the whole body would cost more than orjson saves."""
    return (
        b"null" in body
        or b"0.0000" in body
        or (b"e-" in body and _SHORT_EXPONENT.search(body) is not None)
    )


def encoded(
    envelope: dict[str, Any], floats_written_alike: bool = False
) -> tuple[dict[str, Any], bytes]:
    """The envelope and its UTF-8 JSON; with surrogates replaced in both if it had any.

    ``floats_written_alike``: the caller vouches that every float in the envelope is
    finite and written alike (:attr:`ValueRules.floats_written_alike`), which spares
    scanning orjson's bytes for what it writes its own way.
    """
    if orjson is not None:
        try:
            body = orjson.dumps(envelope, None, _ORJSON_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: the standard library decides
            pass
        else:
            if floats_written_alike or not _maybe_not_the_standard_way(body):
                return envelope, body
    return standard_encoded(envelope)


def standard_encoded(envelope: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """:func:`encoded` by the standard library alone: the reference for orjson's bytes."""
    text = envelope_json(envelope)
    try:
        return envelope, text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return json.loads(text), text.encode("utf-8")
