"""Scrubbing of the free text the package captures on its own, before it is exported.

An exception's message, a retry's reason or a request header's value can quote a
credential that the application never meant to log. In an auto-captured event, these
texts are scrubbed: ``data.error_message``, ``data.expected_error_message``,
``data.retry_reason`` and each ``"Name: value"`` entry of ``data.request_headers``.
What user code set itself (span attributes, a manual event's data and metadata) is
exported as it was given.

Each of these becomes ``***``:

* the password of a URI, wherever ``://`` appears (glued to a word too), the rest
  kept: ``amqp://user:***@host//``. As kombu and urllib read it, the password runs from
  the first ``:`` after ``://`` to the *last* ``@`` before the next ``/``, so
  ``amqp://app:p@ss@host//`` is masked whole; when no ``@`` comes before a ``/``, the
  password may hold ``/`` (not percent-encoded) and runs to the last ``@`` before a
  blank or the next ``://``;
* the credential after ``Bearer`` or ``Basic`` (any case), the word kept, whether a
  blank, ``%20``, ``+`` or ``:`` follows the word: ``Bearer ***``. The credential is
  everything up to a blank, quote, comma or semicolon. After ``Basic`` only a
  credential (``user:password``, or base64 of it) is masked, so that prose such as
  "Basic setup failed" stays readable;
* a card number: 13 to 19 digits, up to three separators between two of them (spaces of
  any kind, ``-``, ``.``, ``_``, ``/``), that passes the Luhn check (other numbers,
  order ids say, are kept);
* the value of a ``key=value`` or ``key: value`` pair whose key names a secret: holds
  ``password``, ``passwd``, ``passphrase``, ``pwd``, ``secret``, ``token``, ``api_key``
  (``apikey``, ``api-key``), ``access_key``, ``private_key``, ``authorization``,
  ``credential`` or ``auth`` (any case, inside a longer name too, quoted or not:
  ``db_password=***``, ``"apiKey": ***``). The value runs to a blank, comma, semicolon,
  ``&`` or closing bracket, or is a quoted string (to the closing quote, or to the end
  of the text if none); a ``Bearer`` or ``Basic`` word before it is kept;
* every match of a pattern of ``EVENTLOG_SCRUB_PATTERNS`` (``re.search`` syntax).

The built-in kinds take time linear in the text (a megabyte of hostile text is
scrubbed in a few tens of milliseconds, and Python's ``re`` holds the GIL while it
runs): URIs are found with ``str.find``, and every pattern is bounded or anchored on a
literal word. The patterns of ``EVENTLOG_SCRUB_PATTERNS`` are the user's own: one that
backtracks (``(a+)+``, or a repeat followed by what the repeat also matches) can take
time quadratic or worse in the text, on the export thread, so write them anchored and
bounded.

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

_AUTH_TOKEN = re.compile(
    r"(?P<scheme>(?<![A-Za-z])(?i:bearer|basic)(?:\s|%20|\+|:)+)(?P<token>[^\s\"',;]+)"
)
"""The scheme word not inside a longer word, then the whole token (RFC 6750's b64token,
or anything a client percent-encoded or left unencoded)."""
_AUTH_WORDS = ("bearer", "basic")
_CARD_NUMBER = re.compile(r"\d(?<!\d\d)(?:[\s\-._/]{0,3}\d){12,18}(?!\d)")
"""A run of 13 to 19 digits not inside a longer one; the Luhn check decides. The
pattern starts with the digit (its look-behind after it) so that ``re`` skips to digits
fast."""
_SECRET_PAIR = re.compile(
    r"(?P<key>(?:passw|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key"
    r"|private[_-]?key|auth|credential)(?=(?P<rest>[\w-]{0,30}))(?P=rest)"
    r"[\"']?[ \t]{0,8}[:=][ \t]{0,8})"
    r"(?P<value>\"[^\"]*\"?|'[^']*'?|[^\s,;&\"')\]}]+)"
)
"""In lowered text: a secret's key (the word anywhere in it, then at most 30 more
characters of its name, taken whole: the look-ahead never gives them back), ``:`` or
``=``, then its value, which ends the match. Each start costs a bounded amount, so the
scan is linear; ``(?i)`` would make it ten times slower."""
_ANY_DIGIT = re.compile(r"\d")
_BLANK = re.compile(r"\s")
_URI_MARK = "://"


class Scrubber:
    """Masks credentials in a text: the built-in kinds plus the given patterns.

    Each built-in kind is its own pass, skipped when a cheap look finds nothing it could
    match. Patterns without groups or global flags are joined in one alternation, so a
    text is scanned once for them; any other pattern (its groups could be
    back-referenced by number, its flags would apply to the whole) is applied on its own
    after it.
    """

    def __init__(self, patterns: tuple[re.Pattern[str], ...] = ()) -> None:
        joined = [p for p in patterns if p.groups == 0 and p.flags == re.UNICODE]
        alone = tuple(p for p in patterns if p not in joined)
        if joined:
            alone = (re.compile("|".join(f"(?:{p.pattern})" for p in joined)), *alone)
        self._user_patterns = alone

    def scrub(self, text: str) -> str:
        """``text`` with every credential replaced by ``***``."""
        if _URI_MARK in text:
            text = masked_uri_passwords(text)
        lowered = text.lower()
        if any(word in lowered for word in _AUTH_WORDS):
            text = _AUTH_TOKEN.sub(_masked_token, text)
        if "=" in text or ":" in text:
            text = masked_secret_pairs(text)
        if _ANY_DIGIT.search(text):
            text = _CARD_NUMBER.sub(_masked_cards, text)
        for pattern in self._user_patterns:
            text = pattern.sub(MASK, text)
        return text


@functools.lru_cache(maxsize=8)
def scrubber_for(patterns: tuple[re.Pattern[str], ...]) -> Scrubber:
    """The scrubber of ``EVENTLOG_SCRUB_PATTERNS``, compiled once per set of patterns."""
    return Scrubber(patterns)


DEFAULT_SCRUBBER = Scrubber()
"""The built-in kinds only."""


def masked_uri_passwords(text: str) -> str:
    """``text`` with the password after each ``://`` masked (see the module's rule).

    Each ``://`` is looked at only up to the next one, so the work is linear in the text.
    """
    pieces = text.split(_URI_MARK)
    with_at = [index for index, piece in enumerate(pieces) if "@" in piece and index]
    for index in with_at:
        piece = pieces[index]
        colon = piece.find(":")
        if colon >= 0 and piece.find("@", colon + 2) >= 0:
            pieces[index] = _masked_authority(piece)
    return _URI_MARK.join(pieces)


def _masked_authority(piece: str) -> str:
    """``piece`` (what follows a ``://``) with the password of its authority masked."""
    blank = _BLANK.search(piece)
    end = blank.start() if blank else len(piece)
    slash = piece.find("/", 0, end)
    at = piece.rfind("@", 0, end if slash < 0 else slash)
    if at < 0 and slash >= 0:
        at = piece.rfind("@", slash, end)
    colon = piece.find(":", 0, max(at, 0))
    if colon < 0 or 0 <= slash < colon or colon + 1 == at:
        return piece
    return piece[: colon + 1] + MASK + piece[at:]


def masked_secret_pairs(text: str) -> str:
    """``text`` with the value of every pair whose key names a secret masked (see the
    module's rule), a ``Bearer`` or ``Basic`` word before the value kept."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters lower to two: keep the offsets
        lowered = "".join(char if len(low := char.lower()) != 1 else low for char in text)
    pieces: list[str] = []
    kept = 0
    for match in _SECRET_PAIR.finditer(lowered):
        value = match["value"]
        if value not in _AUTH_WORDS and not value.endswith(MASK):  # not masked already
            pieces.append(text[kept : match.end("key")])
            pieces.append(MASK)
            kept = match.end()
    if not pieces:
        return text
    pieces.append(text[kept:])
    return "".join(pieces)


def _masked_token(match: re.Match[str]) -> str:
    if match["scheme"][:5].lower() == "basic" and not _is_basic_credential(match["token"]):
        return match[0]
    return match["scheme"] + MASK


def _is_basic_credential(token: str) -> bool:
    if ":" in token[:-1]:
        return True
    try:
        decoded = b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


_DIGIT_GROUPS = re.compile(r"(\D+)")
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
"""A digit's Luhn value where it is doubled (its double's digit sum)."""


def _masked_cards(match: re.Match[str]) -> str:
    """The matched digits with the first card number in them masked.

    The whole run is tried first; when it fails, runs of its separated digit groups are
    (``4111 1111 1111 1111 12`` holds a card followed by another number). Each run's Luhn
    sum is a difference of two prefix sums, so the search stays cheap.
    """
    candidate = match[0]
    parts = _DIGIT_GROUPS.split(candidate)  # digit groups at even indices, separators between
    digits = [int(digit) for digit in "".join(parts[0::2])]
    sums = _luhn_prefix_sums(digits)
    if _luhn_sum(sums, 0, len(digits)) % 10 == 0:
        return MASK
    bounds = [0]
    for group in parts[0::2]:
        bounds.append(bounds[-1] + len(group))
    for first, start in enumerate(bounds):
        for last, end in enumerate(bounds[first + 1:], first):
            if end - start > 19:
                break
            if end - start >= 13 and _luhn_sum(sums, start, end) % 10 == 0:
                return "".join(parts[: 2 * first]) + MASK + "".join(parts[2 * last + 1:])
    return candidate


def _luhn_prefix_sums(digits: list[int]) -> tuple[list[int], list[int]]:
    """Prefix sums of the digits' Luhn values: where odd positions are doubled, and
    where even ones are."""
    odd_doubled, even_doubled = [0], [0]
    for position, digit in enumerate(digits):
        doubled = _DOUBLED[digit]
        odd_doubled.append(odd_doubled[-1] + (doubled if position % 2 else digit))
        even_doubled.append(even_doubled[-1] + (digit if position % 2 else doubled))
    return odd_doubled, even_doubled


def _luhn_sum(sums: tuple[list[int], list[int]], start: int, end: int) -> int:
    """The Luhn sum of ``digits[start:end]``: its last digit is not doubled, the one
    before it is, and so on."""
    prefix = sums[0] if (end - 1) % 2 == 0 else sums[1]
    return prefix[end] - prefix[start]


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` passes the Luhn check that every payment card number passes."""
    return _luhn_sum(_luhn_prefix_sums([int(digit) for digit in digits]), 0, len(digits)) % 10 == 0
