"""Masking the credentials of broker URIs wherever the package prints them.

A URI's password is everything between the first ``:`` of its user part and the *last*
``@`` before the next URI, whether or not it was percent-encoded: RabbitMQ users write
``amqp://app:s3cr#t@host//`` and ``/``, ``?``, ``#`` or ``;`` in a password would end it
early for :func:`urllib.parse.urlsplit`, which then reports no password at all. A value
may hold several URIs (kombu's failover list ``amqp://u:p1@h1//;amqp://u:p2@h2//``, or
``user:password@host`` items without a scheme); each one is masked. A URI starts at the
start of the value or after a separator (``;``, ``,``, white space): ``://`` inside a
password does not start a new one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote, unquote

MASK = "***"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_LIST_SEPARATORS = re.compile(r"[;,\s]+")


def _credentials(value: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of every password in ``value``."""
    # A scheme starts a URI only at the start or after a list separator: one inside a
    # password (``amqp://guest:a://b@host``) is part of that password.
    starts = [
        match.start() for match in _SCHEME.finditer(value)
        if match.start() == 0 or _LIST_SEPARATORS.match(value[match.start() - 1])
    ]
    leading = value[: starts[0]] if starts else value
    position = 0
    for item in _LIST_SEPARATORS.split(leading):
        at = item.rfind("@")
        colon = item.find(":", 0, at)
        offset = value.index(item, position) if item else position
        if at > 0 and colon >= 0:
            yield offset + colon + 1, offset + at
        position = offset + len(item)
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(value)
        authority = start + value[start:end].index("://") + 3
        at = value.rfind("@", authority, end)
        colon = value.find(":", authority, at) if at >= 0 else -1
        if colon >= 0:
            yield colon + 1, at


def mask_uri(value: str) -> str:
    """``value`` with the password of every URI in it shown as ``***``."""
    masked: list[str] = []
    last = 0
    for start, end in _credentials(value):
        masked += (value[last:start], MASK)
        last = end
    masked.append(value[last:])
    return "".join(masked)


def passwords(value: str) -> list[str]:
    """The passwords in ``value`` as written, decoded and percent-encoded."""
    found = []
    for start, end in _credentials(value):
        raw = value[start:end]
        found += [raw, unquote(raw), quote(unquote(raw), safe="")]
    return [text for text in dict.fromkeys(found) if text]


def redact(text: str, *secrets: str) -> str:
    """``text`` (an error message, say) with every password of ``secrets`` masked, and
    every URI credential in ``text`` itself too."""
    found = {password for secret in secrets for password in passwords(secret)}
    for password in sorted(found, key=len, reverse=True):
        text = text.replace(password, MASK)
    return mask_uri(text)


def mask_secret(value: Any) -> str:
    """Mask every URI in a setting's value (a text or a sequence of texts)."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ",".join(mask_uri(str(item)) for item in value)
    return mask_uri(str(value))
