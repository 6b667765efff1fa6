"""How an event becomes strict JSON: its captured values' rules, and cutting it to size.

The rules for any value OpenTelemetry accepts as an attribute (see
:mod:`eventlog_instrument.envelope` for the whole list of guarantees):

* a text longer than ``EVENTLOG_MAX_VALUE_LENGTH`` characters is cut to it, at any
  depth of a sequence or mapping;
* ``bytes`` become text: decoded as UTF-8, each byte that is not part of UTF-8 written
  as ``\\xNN`` (Python's ``backslashreplace``), then cut like any text;
* a float that JSON cannot hold becomes the text ``"nan"``, ``"inf"`` or ``"-inf"``;
* an int outside the signed 64-bit range (what OpenTelemetry's protocol and most JSON
  readers hold exactly) becomes its decimal text, or ``0x`` hexadecimal text past
  about 4,300 digits (Python's own limit of int-to-text conversion);
* a sequence becomes a list, a mapping an object whose keys are texts (``str()`` of
  any other key), a key longer than ``EVENTLOG_MAX_VALUE_LENGTH`` cut to it like a
  value (an attribute's own name too); nesting deeper than 100 levels, and the part of a sequence or
  mapping past ``EVENTLOG_MAX_EVENT_BYTES``, are left out;
* anything else becomes its ``str()``.

Each value that lost something is named in ``data._truncated`` (by its cut key when its
key was cut). That key is the package's own: an attribute ``eventlog.data._truncated``
set by user code is not exported.

Encoding is :mod:`eventlog_instrument.json_body`'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from eventlog_instrument.json_body import json_size

TRUNCATED_KEY = "_truncated"
MAX_DEPTH = 100
_INT64 = 2**63
_INT_BITS_PRINTED = 14_284
"""Bits of the largest ints that have at most 4,300 decimal digits, Python's default
limit of int-to-text conversion (``sys.get_int_max_str_digits``): beyond it, decimal
text would take time quadratic in the digits where the limit is lifted."""
_SMALLEST_WRITTEN_ALIKE = 1e-4
"""Below it, the standard library writes an exponent (``1e-05``) and orjson may not."""
_PREFIX_REFINEMENTS = 4
"""Tries to shorten a text or list to a byte size before it is emptied instead."""


class ValueRules:
    """Makes one event's captured values JSON-ready, collecting the names of cut ones."""

    def __init__(self, limit: int, budget: int) -> None:
        self.limit = limit
        self.budget = budget
        """Most characters one value may hold in all: a walk stops there."""
        self.truncated: list[str] = []
        self.floats_written_alike = True
        """Whether every float seen is written alike by orjson and the standard library
        (see :func:`encoded`); texts made of the others are not floats any more."""
        self._cut = False
        self._size = 0

    def ready(self, value: Any, name: str) -> Any:
        """``value`` made JSON-ready under the module's rules; ``name`` listed if it was cut."""
        if type(value) is int and -_INT64 <= value < _INT64:
            return value
        self._cut = False
        self._size = 0
        result = self._ready(value, 0)
        if self._cut and name not in self.truncated:
            self.truncated.append(name)
        return result

    def key(self, key: str, prefix: str = "") -> str:
        """An attribute's name (``prefix`` + ``key`` in the event) cut to the limit, and
        named as cut."""
        key = key[: self.limit]
        self.truncated.append(prefix + key)
        return key

    def free_text(self, value: Any, name: str, scrub: Callable[[str], str]) -> Any:
        """A text the package captured (or a sequence of them), scrubbed, then made ready.

        The text is cut a little past the limit before it is scrubbed, so that a long
        text costs little and a credential across the limit is still recognised.
        """
        seen = self.limit + 1024
        if isinstance(value, str):
            scrubbed: Any = scrub(value[:seen])
            cut = len(value) > seen
        elif isinstance(value, (tuple, list)):
            scrubbed = [scrub(item[:seen]) if isinstance(item, str) else item for item in value]
            cut = any(isinstance(item, str) and len(item) > seen for item in value)
        else:
            return self.ready(value, name)
        ready = self.ready(scrubbed, name)
        if cut and name not in self.truncated:
            self.truncated.append(name)
        return ready

    def _ready(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if value is None or isinstance(value, bool):
            self._size += 5
            return value
        if isinstance(value, int):
            if -_INT64 <= value < _INT64:
                self._size += 20
                return value
            return self._text(_int_text(value))
        if isinstance(value, float):
            self._size += 24
            if not math.isfinite(value):
                return str(value)
            if value and -_SMALLEST_WRITTEN_ALIKE < value < _SMALLEST_WRITTEN_ALIKE:
                self.floats_written_alike = False
            return value
        if isinstance(value, (bytes, bytearray)):
            return self._bytes(value)
        if depth >= MAX_DEPTH:
            self._cut = True
            return None
        if isinstance(value, Mapping):
            return self._mapping(value, depth + 1)
        if isinstance(value, (tuple, list)):
            return self._sequence(value, depth + 1)
        return self._text(str(value))

    def _text(self, text: str) -> str:
        if len(text) > self.limit:
            self._cut = True
            text = text[: self.limit]
        self._size += len(text) + 2
        return text

    def _bytes(self, value: bytes | bytearray) -> str:
        most = self.limit * 4  # no character takes more than 4 bytes, nor "\xNN" 4 characters
        if len(value) > most:
            self._cut = True
            value = value[:most]
        return self._text(bytes(value).decode("utf-8", "backslashreplace"))

    def _sequence(self, value: tuple[Any, ...] | list[Any], depth: int) -> list[Any]:
        items = []
        for item in value:
            if self._size > self.budget:
                self._cut = True
                break
            items.append(self._ready(item, depth))
            self._size += 1
        return items

    def _mapping(self, value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        result = {}
        for key, item in value.items():
            if self._size > self.budget:
                self._cut = True
                break
            text_key = key if isinstance(key, str) else str(key)
            if len(text_key) > self.limit:
                self._cut = True
                text_key = text_key[: self.limit]
            self._size += len(text_key) + 4
            result[text_key] = self._ready(item, depth)
        return result


def _int_text(value: int) -> str:
    if value.bit_length() > _INT_BITS_PRINTED:
        return hex(value)
    try:  # the application may have lowered Python's limit
        return str(value)
    except ValueError:
        return hex(value)


def cut_to_fit(
    envelope: dict[str, Any],
    metadata_keys: list[str],
    size: int,
    bound: int,
    truncated: list[str],
) -> bool:
    """Cut the largest metadata and ``data`` entries of ``envelope`` until it fits ``bound``.

    ``size`` is the bytes of its JSON now. Texts and lists are shortened (a list keeps
    its first items), other values replaced by ``null``; when emptying a value is not
    enough, its key is shortened too. Each entry cut is named (by its key as it ends)
    in ``truncated``, which is, or becomes, ``data._truncated``. Every entry is visited
    at most once, largest first, so the work is bounded. Returns whether it fits now;
    when the identity alone is over ``bound``, nothing is cut.
    """
    data = envelope["data"]
    candidates = [(envelope, key, "") for key in metadata_keys]
    candidates += [(data, key, "data.") for key in data if key != TRUNCATED_KEY]
    sized = sorted(
        ((json_size(key), json_size(holder[key]), holder, key, prefix)
         for holder, key, prefix in candidates),
        key=lambda candidate: candidate[0] + candidate[1], reverse=True,
    )
    if size - sum(key_size + value_size - 4 for key_size, value_size, *_ in sized) > bound:
        return False
    keys_too = size - sum(value_size - 4 for _, value_size, *_ in sized) > bound
    total = size
    for key_size, value_size, holder, key, prefix in sized:
        if total <= bound:
            break
        name_cost = key_size + len(prefix) + len(TRUNCATED_KEY) + 7
        unabsorbed = total + name_cost - bound - (value_size - 2)
        if keys_too and unabsorbed > 0:  # the key counts twice: in the event and its name
            shorter_key = _shortened(key, key_size - unabsorbed // 2 - 2, key_size)
            if shorter_key not in holder:
                holder[shorter_key] = holder.pop(key)
                total -= key_size - json_size(shorter_key)
                key = shorter_key
        name = prefix + key
        if name not in truncated:
            total += json_size(name) + (1 if truncated else len(TRUNCATED_KEY) + 6)
            truncated.append(name)
        data[TRUNCATED_KEY] = truncated
        value = holder[key]
        target = value_size - (total - bound)
        shorter = _shortened(value, target, value_size) if isinstance(value, (str, list)) else None
        holder[key] = shorter
        total -= value_size - json_size(shorter)
    return total <= bound


def _shortened(value: str | list[Any], target: int, size: int) -> Any:
    """A long prefix of ``value`` (a text or list) whose JSON is at most ``target`` bytes.

    Characters (escapes, UTF-8) and items differ in their JSON size, so the prefix is
    guessed in proportion and refined a few times; failing that, it is emptied.
    """
    keep = len(value)
    for _ in range(_PREFIX_REFINEMENTS):
        if size <= target:
            return value[:keep]
        keep = max(0, keep * max(0, target - 2) // max(size, 1) - 1)
        size = json_size(value[:keep])
    return value[:keep] if size <= target else value[:0]
