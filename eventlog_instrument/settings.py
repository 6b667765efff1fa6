"""The settings table: every ``EVENTLOG_*`` variable, its type, default and help.

This table is the single source of truth for environment variables, the launcher's
flags, ``--info`` and the README's configuration section. Standard OpenTelemetry
variables are honoured as fallbacks where one exists (``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_BSP_*``, ``OTEL_SDK_DISABLED``). A bad value is a
:class:`SettingsError` that names the variable, the value and what is accepted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from eventlog_instrument.constants import DEFAULT_EVENT_TYPE

TIMESTAMP_PRECISIONS = ("seconds", "milliseconds", "microseconds")
KAFKA_PARTITION_KEYS = ("outermost_call_id", "call_id", "service_name", "none")
KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
DEFAULT_SERVICE_NAME = "unknown_service"


class SettingsError(ValueError):
    """A setting has a value that is not accepted."""


@dataclass(frozen=True)
class Setting:
    """One row of the settings table."""

    name: str
    """Attribute name on :class:`Settings` and keyword of ``instrument(**options)``."""
    parse: Callable[[str], Any]
    """Turns the text of the variable into the value; raises ``ValueError`` when bad."""
    accepted: str
    """What values are accepted, quoted in the error for a bad one."""
    default: str
    """Default, as the text an environment variable would hold."""
    help: str
    """One line for ``--help``, ``--info`` and the README."""
    otel_env: str | None = None
    """Standard OpenTelemetry variable used when the ``EVENTLOG_`` one is not set."""
    secret: bool = False
    """The value may hold credentials in URIs: their passwords are masked wherever shown."""
    password: bool = False
    """The whole value is a credential: it is shown as ``***``."""

    @property
    def env(self) -> str:
        return "EVENTLOG_" + self.name.upper()


def _text(value: str) -> str:
    return value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("empty")
    return value.strip()


def _names(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("not positive")
    return number


def _positive_seconds(value: str) -> float:
    number = float(value)
    if not number > 0 or number == float("inf"):
        raise ValueError("not a positive finite number")
    return number


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off", ""):
        return False
    raise ValueError("not a boolean")


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.strip() not in choices:
            raise ValueError("not a choice")
        return value.strip()

    return parse


def _regexes(value: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern) for pattern in _names(value))


DEFAULT_SCRUB_DENYLIST = (
    "auth", "cookie", "token", "password", "passwd", "secret", "api-key", "api_key", "apikey",
    "session", "csrf",
)
"""Name fragments that are always scrubbed: ``auth`` covers ``Authorization`` and ``X-Auth``."""


def _denylist(value: str) -> tuple[str, ...]:
    """The built-in fragments plus the given ones: a setting can add, never silently drop."""
    extra = tuple(name.lower() for name in _names(value))
    return tuple(dict.fromkeys((*DEFAULT_SCRUB_DENYLIST, *extra)))


def _topic_template(value: str) -> str:
    value = _non_empty(value)
    value.format(service_name="s", event_type="e")
    return value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "service_name", str.strip, "a name", "",
        "Service name for events outside a framework that names its own service "
        "(Nameko always uses its service's name). Falls back to OTEL_SERVICE_NAME, then "
        f"service.name in OTEL_RESOURCE_ATTRIBUTES, then '{DEFAULT_SERVICE_NAME}'.",
        otel_env="OTEL_SERVICE_NAME",
    ),
    Setting(
        "exporters", _names, "a comma list of exporter names", "console",
        "Exporters that publish events: console, amqp, kafka, memory, none, or any "
        "exporter registered under the eventlog_instrument.exporters entry-point group.",
    ),
    Setting(
        "disabled_instrumentations", _names, "a comma list of instrumentor names, or *", "",
        "Instrumentors not to enable (nameko, flask, celery, ...); * disables all.",
    ),
    Setting(
        "event_type", _non_empty, "a non-empty name", DEFAULT_EVENT_TYPE,
        "Nameko event type that carries every envelope: the AMQP routing key.",
    ),
    Setting(
        "entrypoints_to_exclude", _names, "a comma list of entrypoint names", "",
        "Entrypoint (method, endpoint or task) names that produce no entrypoint_fired event.",
    ),
    Setting(
        "nameko_entrypoint_types", _names, "a comma list of Nameko entrypoint class names", "",
        "Nameko entrypoint types to capture (Rpc, HttpRequestHandler, EventHandler, Timer, "
        "Consumer, ...); all when empty.",
    ),
    Setting(
        "flask_excluded_urls", _regexes, "a comma list of regular expressions", "",
        "Flask request paths that get no span and no event (re.search), e.g. ^/health$.",
    ),
    Setting(
        "capture_request_headers", _names, "a comma list of header names", "",
        "Request headers put in an event's data (Flask), scrubbed by EVENTLOG_SCRUB_DENYLIST.",
    ),
    Setting(
        "scrub_denylist", _denylist, "a comma list of name fragments", "",
        "Name fragments added to the built-in ones (" + ",".join(DEFAULT_SCRUB_DENYLIST)
        + "): a captured header whose lower-cased name contains one is exported as ***.",
    ),
    Setting(
        "scrub_patterns", _regexes, "a comma list of regular expressions", "",
        "Patterns added to the built-in ones (URI credentials, Bearer/Basic tokens, card "
        "numbers): every match in captured free text (error messages) is exported as ***.",
    ),
    Setting(
        "call_id_response_header", _boolean, "true or false", "true",
        "Answer every instrumented HTTP request with its call id in the X-Call-Id header.",
    ),
    Setting(
        "max_event_bytes", _positive_int, "a positive whole number of bytes", "1000000",
        "Largest event body (UTF-8 JSON): fits Kafka's default 1 MiB request and RabbitMQ's "
        "message size. A larger manual event is a ValueError at the call; an auto-captured "
        "one has its largest values cut (named in data._truncated).",
    ),
    Setting(
        "timestamp_precision", _choice(*TIMESTAMP_PRECISIONS), ", ".join(TIMESTAMP_PRECISIONS),
        "seconds", "Precision of the envelope's timestamp (truncated, never rounded up).",
    ),
    Setting(
        "amqp_uri", _non_empty, "an amqp:// or amqps:// URI", "amqp://guest:guest@localhost:5672//",
        "RabbitMQ URI of the amqp exporter.", secret=True,
    ),
    Setting(
        "amqp_timeout", _positive_seconds, "a positive number of seconds", "5",
        "Connect, read and write timeout of the amqp exporter, in seconds.",
    ),
    Setting(
        "amqp_ssl_ca", _text, "a file path", "",
        "CA certificates (PEM) to verify RabbitMQ with; TLS is on for amqps:// or any "
        "EVENTLOG_AMQP_SSL_* setting.",
    ),
    Setting("amqp_ssl_cert", _text, "a file path", "", "Client certificate (PEM) for RabbitMQ."),
    Setting("amqp_ssl_key", _text, "a file path", "", "Client private key (PEM) for RabbitMQ."),
    Setting(
        "kafka_bootstrap_servers", _names, "a comma list of host:port", "localhost:9092",
        "Kafka bootstrap servers of the kafka exporter.", secret=True,
    ),
    Setting(
        "kafka_topic", _topic_template, "a topic template using {service_name} and {event_type}",
        "{service_name}.events",
        "Topic template of the kafka exporter; {event_type} is the envelope's event type.",
    ),
    Setting(
        "kafka_topic_prefix", _text, "any text", "", "Text put before every Kafka topic name.",
    ),
    Setting(
        "kafka_topic_suffix", _text, "any text", "", "Text put after every Kafka topic name.",
    ),
    Setting(
        "kafka_partition_key", _choice(*KAFKA_PARTITION_KEYS), ", ".join(KAFKA_PARTITION_KEYS),
        "outermost_call_id",
        "Kafka message key: the outermost call id keeps one call chain in one partition.",
    ),
    Setting(
        "kafka_max_block_ms", _positive_int, "a positive whole number of milliseconds", "5000",
        "Longest time a Kafka send may block the export thread.",
    ),
    Setting(
        "kafka_security_protocol", _choice(*KAFKA_SECURITY_PROTOCOLS),
        ", ".join(KAFKA_SECURITY_PROTOCOLS), "PLAINTEXT", "Kafka security protocol.",
    ),
    Setting("kafka_ssl_cafile", _text, "a file path", "", "CA certificates (PEM) for Kafka."),
    Setting("kafka_ssl_certfile", _text, "a file path", "", "Client certificate (PEM) for Kafka."),
    Setting("kafka_ssl_keyfile", _text, "a file path", "", "Client private key (PEM) for Kafka."),
    Setting(
        "kafka_sasl_mechanism", _text, "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or empty", "",
        "Kafka SASL mechanism (with SASL_PLAINTEXT or SASL_SSL).",
    ),
    Setting("kafka_sasl_username", _text, "a user name", "", "Kafka SASL user name."),
    Setting(
        "kafka_sasl_password", _text, "a password", "", "Kafka SASL password.", password=True,
    ),
    Setting(
        "max_value_length", _positive_int, "a positive whole number of characters", "4096",
        "Longest text of an auto-captured attribute or data value; longer ones are cut and "
        "named in data._truncated.",
    ),
    Setting(
        "bsp_max_queue_size", _positive_int, "a positive whole number", "16384",
        "Events buffered per exporter before new ones are dropped (and counted).",
        otel_env="OTEL_BSP_MAX_QUEUE_SIZE",
    ),
    Setting(
        "bsp_max_export_batch_size", _positive_int, "a positive whole number", "512",
        "Most events published in one batch.", otel_env="OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    ),
    Setting(
        "bsp_schedule_delay", _positive_int, "a positive whole number of milliseconds", "500",
        "Longest time an event waits in the buffer before its batch is published.",
        otel_env="OTEL_BSP_SCHEDULE_DELAY",
    ),
    Setting(
        "bsp_export_timeout", _positive_int, "a positive whole number of milliseconds", "10000",
        "Longest time one publish attempt of a batch may take before it is retried.",
        otel_env="OTEL_BSP_EXPORT_TIMEOUT",
    ),
    Setting(
        "shutdown_timeout", _positive_int, "a positive whole number of milliseconds", "5000",
        "Longest time pending events are flushed for at exit.",
    ),
    Setting(
        "sdk_disabled", _boolean, "true or false", "false",
        "Turns the whole package off.", otel_env="OTEL_SDK_DISABLED",
    ),
)

SETTINGS_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}


class Settings:
    """Effective configuration: one attribute per row of :data:`SETTINGS`."""

    service_name: str
    exporters: tuple[str, ...]
    disabled_instrumentations: tuple[str, ...]
    event_type: str
    entrypoints_to_exclude: tuple[str, ...]
    nameko_entrypoint_types: tuple[str, ...]
    flask_excluded_urls: tuple[re.Pattern[str], ...]
    capture_request_headers: tuple[str, ...]
    scrub_denylist: tuple[str, ...]
    scrub_patterns: tuple[re.Pattern[str], ...]
    call_id_response_header: bool
    max_event_bytes: int
    timestamp_precision: str
    amqp_uri: str
    amqp_timeout: float
    amqp_ssl_ca: str
    amqp_ssl_cert: str
    amqp_ssl_key: str
    kafka_bootstrap_servers: tuple[str, ...]
    kafka_topic: str
    kafka_topic_prefix: str
    kafka_topic_suffix: str
    kafka_partition_key: str
    kafka_max_block_ms: int
    kafka_security_protocol: str
    kafka_ssl_cafile: str
    kafka_ssl_certfile: str
    kafka_ssl_keyfile: str
    kafka_sasl_mechanism: str
    kafka_sasl_username: str
    kafka_sasl_password: str
    max_value_length: int
    bsp_max_queue_size: int
    bsp_max_export_batch_size: int
    bsp_schedule_delay: int
    bsp_export_timeout: int
    shutdown_timeout: int
    sdk_disabled: bool

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
        self.__dict__.update(values)
        self.sources = dict(sources)
        """For each setting, where its value came from: an env var name, option or default."""

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={display_value(name, self)!r}" for name in SETTINGS_BY_NAME)
        return f"Settings({shown})"


def load_settings(
    environ: Mapping[str, str] | None = None, **options: Any
) -> Settings:
    """Read every setting: ``options`` first, then ``EVENTLOG_*``, then ``OTEL_*``, then defaults.

    ``options`` are keyword arguments of ``instrument()`` named as in the table; a text
    value is parsed like the environment variable, any other value is taken as it is.
    Raises :class:`SettingsError` for an unknown option or a bad value.
    """
    environ = os.environ if environ is None else environ
    unknown = sorted(set(options) - set(SETTINGS_BY_NAME))
    if unknown:
        raise SettingsError(
            f"unknown option {unknown[0]!r}: accepted options are {', '.join(SETTINGS_BY_NAME)}"
        )
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        if setting.name in options and not isinstance(options[setting.name], str):
            values[setting.name] = options[setting.name]
            sources[setting.name] = "option"
            continue
        raw, source = _raw_value(setting, environ, options)
        try:
            values[setting.name] = setting.parse(raw)
        except (ValueError, KeyError, IndexError, re.error) as error:
            shown = "***" if setting.password else mask_secret(raw) if setting.secret else raw
            origin = setting.name if source == "option" else source
            raise SettingsError(
                f"{origin}={shown!r} is invalid: expected {setting.accepted}"
            ) from error
        sources[setting.name] = source
    if not values["service_name"]:
        values["service_name"] = _service_name_from_resource(environ)
    return Settings(values, sources)


def _raw_value(
    setting: Setting, environ: Mapping[str, str], options: Mapping[str, Any]
) -> tuple[str, str]:
    if setting.name in options:
        return options[setting.name], "option"
    if setting.env in environ:
        return environ[setting.env], setting.env
    if setting.otel_env and setting.otel_env in environ:
        return environ[setting.otel_env], setting.otel_env
    return setting.default, "default"


def _service_name_from_resource(environ: Mapping[str, str]) -> str:
    for pair in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, _, value = pair.partition("=")
        if key.strip() == "service.name" and value.strip():
            return value.strip()
    return DEFAULT_SERVICE_NAME


def mask_uri(uri: str) -> str:
    """Hide the password of a URI: ``amqp://user:***@host/``; other text is returned as is."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "***"
    if parts.password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def redact(text: str, *uris: str) -> str:
    """``text`` (an error message, say) with the password of each of ``uris`` masked."""
    for uri in uris:
        try:
            password = urlsplit(uri).password
        except ValueError:
            continue
        if password:
            text = text.replace(password, "***")
    return text


def mask_secret(value: Any) -> str:
    """Mask every URI in a setting's value (a text or a sequence of texts)."""
    if isinstance(value, (tuple, list)):
        return ",".join(mask_uri(str(item)) for item in value)
    return mask_uri(str(value))


def display_value(name: str, settings: Settings) -> str:
    """A setting's value as text, credentials masked, for ``--info`` and logs."""
    setting = SETTINGS_BY_NAME[name]
    value = getattr(settings, name)
    if setting.password:
        return "***" if value else ""
    if setting.secret:
        return mask_secret(value)
    if isinstance(value, tuple):
        return ",".join(str(getattr(item, "pattern", item)) for item in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def settings_table_markdown() -> str:
    """The README's configuration table, generated from :data:`SETTINGS`."""
    rows = [
        "| variable | default | accepted | OpenTelemetry fallback | meaning |",
        "|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        default = f"`{setting.default}`" if setting.default else "(none)"
        fallback = f"`{setting.otel_env}`" if setting.otel_env else ""
        rows.append(
            f"| `{setting.env}` | {default} | {setting.accepted} "
            f"| {fallback} | {setting.help} |"
        )
    return "\n".join(rows) + "\n"
