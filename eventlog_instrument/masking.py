"""Masking the credentials of broker URIs wherever the package prints them.

A URI's password is everything between the first ``:`` of its user part and the *last*
``@`` before the next URI, whether or not it was percent-encoded: RabbitMQ users write
``amqp://app:s3cr#t@host//`` and ``/``, ``?``, ``#`` or ``;`` in a password would end it
early for :func:`urllib.parse.urlsplit`, which then reports no password at all. A value
may hold several URIs (kombu's failover list ``amqp://u:p1@h1//;amqp://u:p2@h2//``, or
``user:password@host`` items without a scheme); each one is masked. A ``://`` inside
a password (``amqp://guest:a://b@host``) does not start a new URI.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from eventlog_instrument import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

MASK = "***"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_LIST_SEPARATORS = re.compile(r"[;,\s]+")
_USERINFO_END = re.compile(r"[@/;,\s]")


def _credentials(value: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of every password in ``value``."""
    starts = _uri_starts(value)
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


def _uri_starts(value: str) -> list[int]:
    """Where each URI of ``value`` starts. A scheme inside the password of the URI
    before it (``amqp://guest:a://b@host``: after a ``:`` of its user part, with no
    ``@``, ``/``, separator or space in between) starts none."""
    starts: list[int] = []
    for match in _SCHEME.finditer(value):
        if starts:
            authority = value.index("://", starts[-1]) + 3
            between = value[authority : match.start()]
            if ":" in between and not _USERINFO_END.search(between):
                continue
        starts.append(match.start())
    return starts


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
    from urllib.parse import quote, unquote  # here: the launcher would pay 2 ms at every start

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


def unreachable(where: str, error: BaseException, *secrets: str) -> str:
    """``broker unreachable (<where>): <error>``, the error's text redacted of ``secrets``
    (see :func:`redact`); ``where`` is masked already."""
    return f"broker unreachable ({where}): {type(error).__name__}: {redact(str(error), *secrets)}"
