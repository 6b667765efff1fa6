"""Scrubbing of the free text the package captures on its own, before it is exported.

An exception's message, a retry's reason or a request header's value can quote a
credential that the application never meant to log. In an auto-captured event, these
texts are scrubbed: ``data.error_message``, ``data.expected_error_message``,
``data.retry_reason`` and each ``"Name: value"`` entry of ``data.request_headers``.
What user code set itself (span attributes, a manual event's data and metadata) is
exported as it was given.

Each of these becomes ``***``:

* the password of a URI, the rest kept: ``amqp://user:***@host//``;
* the credential after ``Bearer`` or ``Basic`` (any case), the word kept:
  ``Bearer ***``. After ``Basic`` only a credential (base64 of ``user:password``) is
  masked, so that prose such as "Basic setup failed" stays readable;
* a card number: 13 to 19 digits, single spaces or dashes allowed between them, that
  passes the Luhn check (other numbers, order ids say, are kept);
* every match of a pattern of ``EVENTLOG_SCRUB_PATTERNS`` (``re.search`` syntax).

A header whose name contains a fragment of ``EVENTLOG_SCRUB_DENYLIST`` is masked whole
where it is captured (see the Flask instrumentor); this module then scrubs what the
other headers' values quote.
"""

from __future__ import annotations

import binascii
import functools
import re
from base64 import b64decode

MASK = "***"

_URI_PASSWORD = r"(?P<uri>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)[^\s@]+(?=@)"
"""``scheme://user:`` kept, the password up to the ``@`` masked; a password may hold
``/`` or ``:`` when it was not percent-encoded, so only blanks and ``@`` end it."""
_AUTH_TOKEN = r"(?P<scheme>\b(?i:bearer|basic)\s+)(?P<token>[A-Za-z0-9\-._~+/]+=*)"
"""RFC 6750's b64token after the scheme word."""
_CARD_NUMBER = r"(?P<card>(?<!\d)\d(?:[ -]?\d){12,18}(?!\d))"
"""A run of 13 to 19 digits not inside a longer one; the Luhn check decides."""
_BUILT_IN = "|".join((_URI_PASSWORD, _AUTH_TOKEN, _CARD_NUMBER))
_SEPARATORS = re.compile("([ -])")


class Scrubber:
    """Masks credentials in a text: the built-in kinds plus the given patterns.

    Patterns without groups or global flags join the built-in ones in one alternation,
    so a text is scanned once; any other pattern (its groups could be back-referenced
    by number, its flags would apply to the whole) is applied on its own after it.
    """

    def __init__(self, patterns: tuple[re.Pattern[str], ...] = ()) -> None:
        joined = [p for p in patterns if p.groups == 0 and p.flags == re.UNICODE]
        self._alone = tuple(p for p in patterns if p not in joined)
        self._pattern = re.compile("|".join([_BUILT_IN, *(f"(?:{p.pattern})" for p in joined)]))

    def scrub(self, text: str) -> str:
        """``text`` with every credential replaced by ``***``."""
        text = self._pattern.sub(_replacement, text)
        for pattern in self._alone:
            text = pattern.sub(MASK, text)
        return text


@functools.lru_cache(maxsize=8)
def scrubber_for(patterns: tuple[re.Pattern[str], ...]) -> Scrubber:
    """The scrubber of ``EVENTLOG_SCRUB_PATTERNS``, compiled once per set of patterns."""
    return Scrubber(patterns)


DEFAULT_SCRUBBER = Scrubber()
"""The built-in kinds only."""


def _replacement(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "uri":
        return match["uri"] + MASK
    if kind == "token":
        if match["scheme"][:5].lower() == "basic" and not _is_basic_credential(match["token"]):
            return match[0]
        return match["scheme"] + MASK
    if kind == "card":
        return _masked_cards(match[0])
    return MASK


def _is_basic_credential(token: str) -> bool:
    try:
        decoded = b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


def _masked_cards(candidate: str) -> str:
    """``candidate`` with every card number in it masked.

    The whole run is tried first; when it fails, runs of its space- or dash-separated
    groups are, so that a card followed by another number (``4111 1111 1111 1111 12``)
    is still found.
    """
    if luhn_valid(_SEPARATORS.sub("", candidate)):
        return MASK
    parts = _SEPARATORS.split(candidate)  # digit groups at even indices, separators between
    for start in range(0, len(parts), 2):
        digits = ""
        for end in range(start, len(parts), 2):
            digits += parts[end]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_valid(digits):
                return "".join(parts[:start]) + MASK + "".join(parts[end + 1:])
    return candidate


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` passes the Luhn check that every payment card number passes."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0
