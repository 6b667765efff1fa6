"""Parsers of setting values: text in, a checked value out, ``ValueError`` when it is bad.

Every check that can be made before the first event is made here, at start-up: a URI
the exporter could never connect with, a file that is not there, a number too large
for a socket timeout or a wait (``1e20`` ms overflows the OS's timers), a name no
broker can route. :func:`eventlog_instrument.settings.load_settings` turns the
``ValueError`` into one line naming the variable, the value and what is accepted.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Callable

MAX_SECONDS = 3600.0
"""Longest timeout or delay accepted: an hour; beyond that a wait is a hang."""
AMQP_SCHEMES = ("amqp://", "amqps://")
"""kombu's py-amqp transport: the one with publisher confirms."""
MAX_AMQP_NAME_BYTES = 255
"""AMQP 0-9-1 short strings: exchange names and routing keys."""
EXCHANGE_SUFFIX = ".events"
KAFKA_MAX_TOPIC_LENGTH = 249
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PORT = re.compile(r"[0-9]{1,5}")
_TOPIC_FIELDS = frozenset({"service_name", "event_type"})


def text(value: str) -> str:
    return value


def non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("empty")
    return value.strip()


def names(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def non_empty_names(value: str) -> tuple[str, ...]:
    parsed = names(value)
    if not parsed:
        raise ValueError("empty")
    return parsed


def positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("not positive")
    return number


def positive_millis(value: str) -> int:
    number = positive_int(value)
    if number > MAX_SECONDS * 1000:
        raise ValueError("longer than an hour")
    return number


def positive_seconds(value: str) -> float:
    number = float(value)
    if not 0 < number <= MAX_SECONDS:
        raise ValueError("not a positive number of seconds up to an hour")
    return number


def boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off", ""):
        return False
    raise ValueError("not a boolean")


def choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.strip() not in choices:
            raise ValueError("not a choice")
        return value.strip()

    return parse


def optional_choice(*choices: str) -> Callable[[str], str]:
    """One of ``choices``, or empty (not set)."""
    return choice("", *choices)


def regexes(value: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern in names(value))


def _check_name(value: str, most_bytes: int) -> str:
    if _CONTROL.search(value):
        raise ValueError("holds a control character")
    if len(value.encode("utf-8", "surrogatepass")) > most_bytes:
        raise ValueError(f"longer than {most_bytes} bytes")
    return value


def service_name(value: str) -> str:
    """A name that fits the AMQP exchange ``<service_name>.events``; empty means unset."""
    return _check_name(value.strip(), MAX_AMQP_NAME_BYTES - len(EXCHANGE_SUFFIX))


def routing_key(value: str) -> str:
    return _check_name(non_empty(value), MAX_AMQP_NAME_BYTES)


def amqp_uri(value: str) -> str:
    """One ``amqp://`` or ``amqps://`` URI with a host, or kombu's failover list of them
    separated by ``;``."""
    uris = []
    for uri in non_empty(value).split(";"):
        scheme, _, rest = uri.strip().partition("://")
        if f"{scheme.lower()}://" not in AMQP_SCHEMES:
            raise ValueError("not an amqp:// or amqps:// URI")
        userinfo, at, location = rest.rpartition("@")
        host, port = _host_and_port(location.split("/", 1)[0])
        if not host or (port and not _valid_port(port)) or _CONTROL.search(uri):
            raise ValueError("no host, or a bad port")
        user, colon, password = userinfo.partition(":")
        uris.append(f"{scheme}://{_encoded(user)}{colon}{_encoded(password)}{at}{location}")
    return ";".join(uris)


_ENCODED_USERINFO = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,=]|%[0-9A-Fa-f]{2})*")


def _encoded(text: str) -> str:
    """A user name or password percent-encoded, as kombu (which decodes it) must get it:
    a raw ``#``, ``/``, ``?`` or ``@`` would end or split the URI's parts."""
    if _ENCODED_USERINFO.fullmatch(text):
        return text
    from urllib.parse import quote  # here: the launcher would pay 2 ms at every start

    return quote(text, safe="")


def host_ports(value: str) -> tuple[str, ...]:
    """A non-empty comma list of ``host:port`` (or ``host``, for the default port)."""
    servers = non_empty_names(value)
    for server in servers:
        host, port = _host_and_port(server)
        if not host or (port and not _valid_port(port)) or _CONTROL.search(server):
            raise ValueError(f"{server!r} is not host:port")
    return servers


def _host_and_port(authority: str) -> tuple[str, str]:
    """``host:port``, ``[v6]:port`` or a bare host; the port is ``""`` when absent."""
    if authority.startswith("["):
        host, _, rest = authority.partition("]")
        return host[1:], rest[1:] if rest.startswith(":") else rest
    host, colon, port = authority.rpartition(":")
    return (host, port) if colon else (authority, "")


def _valid_port(port: str) -> bool:
    return bool(_PORT.fullmatch(port)) and 0 < int(port) < 65536


def existing_file(value: str) -> str:
    """A path to a readable file, or empty for none."""
    if value and not (os.path.isfile(value) and os.access(value, os.R_OK)):
        raise ValueError("no readable file there")
    return value


def topic_template(value: str) -> str:
    """A Kafka topic template with only ``{service_name}`` and ``{event_type}`` fields."""
    value = non_empty(value)
    for _, field, spec, conversion in string.Formatter().parse(value):
        if field is not None and (field not in _TOPIC_FIELDS or spec or conversion):
            raise ValueError(f"unknown field {field!r}")
    return value


def topic_affix(value: str) -> str:
    """Text put around every topic name: it must leave room for the name itself."""
    if len(value) >= KAFKA_MAX_TOPIC_LENGTH or _CONTROL.search(value):
        raise ValueError(f"not under {KAFKA_MAX_TOPIC_LENGTH} characters")
    return value
