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

from eventlog_instrument import setting_parsers as p
from eventlog_instrument.constants import DEFAULT_EVENT_TYPE
from eventlog_instrument.masking import mask_secret as mask_secret
from eventlog_instrument.masking import mask_uri as mask_uri
from eventlog_instrument.masking import redact as redact

TIMESTAMP_PRECISIONS = ("seconds", "milliseconds", "microseconds")
KAFKA_PARTITION_KEYS = ("outermost_call_id", "call_id", "service_name", "none")
KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
DEFAULT_SERVICE_NAME = "unknown_service"
_MILLIS = "a positive whole number of milliseconds, at most 3600000"
_FILE = "a readable file's path, or empty"


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


DEFAULT_SCRUB_DENYLIST = (
    "auth", "cookie", "token", "password", "passwd", "secret", "api-key", "api_key", "apikey",
    "session", "csrf",
)
"""Name fragments that are always scrubbed: ``auth`` covers ``Authorization`` and ``X-Auth``."""


def _denylist(value: str) -> tuple[str, ...]:
    """The built-in fragments plus the given ones: a setting can add, never silently drop."""
    extra = tuple(name.lower() for name in p.names(value))
    return tuple(dict.fromkeys((*DEFAULT_SCRUB_DENYLIST, *extra)))


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "service_name", p.service_name,
        "a name of at most 248 bytes without control characters", "",
        "Service name for events outside a framework that names its own service "
        "(Nameko always uses its service's name). Falls back to OTEL_SERVICE_NAME, then "
        f"service.name in OTEL_RESOURCE_ATTRIBUTES, then '{DEFAULT_SERVICE_NAME}'.",
        otel_env="OTEL_SERVICE_NAME",
    ),
    Setting(
        "exporters", p.non_empty_names,
        "a comma list of exporter names (none for no exporter)", "console",
        "Exporters that publish events: console, amqp, kafka, memory, none, or any "
        "exporter registered under the eventlog_instrument.exporters entry-point group.",
    ),
    Setting(
        "disabled_instrumentations", p.names, "a comma list of instrumentor names, or *", "",
        "Instrumentors not to enable (nameko, flask, celery, ...); * disables all.",
    ),
    Setting(
        "event_type", p.routing_key,
        "a name of 1 to 255 bytes without control characters", DEFAULT_EVENT_TYPE,
        "Nameko event type that carries every envelope: the AMQP routing key.",
    ),
    Setting(
        "entrypoints_to_exclude", p.names, "a comma list of entrypoint names", "",
        "Entrypoint (method, endpoint or task) names that produce no entrypoint_fired event.",
    ),
    Setting(
        "nameko_entrypoint_types", p.names, "a comma list of Nameko entrypoint class names", "",
        "Nameko entrypoint types to capture (Rpc, HttpRequestHandler, EventHandler, Timer, "
        "Consumer, ...); all when empty.",
    ),
    Setting(
        "flask_excluded_urls", p.regexes, "a comma list of regular expressions", "",
        "Flask request paths that get no span and no event (re.search), e.g. ^/health$.",
    ),
    Setting(
        "capture_request_headers", p.names, "a comma list of header names", "",
        "Request headers put in an event's data (Flask), scrubbed by EVENTLOG_SCRUB_DENYLIST.",
    ),
    Setting(
        "scrub_denylist", _denylist, "a comma list of name fragments", "",
        "Name fragments added to the built-in ones (" + ",".join(DEFAULT_SCRUB_DENYLIST)
        + "): a captured header whose lower-cased name contains one is exported as ***.",
    ),
    Setting(
        "scrub_patterns", p.regexes, "a comma list of regular expressions", "",
        "Patterns added to the built-in ones (URI credentials, Bearer/Basic tokens, card "
        "numbers): every match in captured free text (error messages) is exported as ***.",
    ),
    Setting(
        "call_id_response_header", p.boolean, "true or false", "true",
        "Answer every instrumented HTTP request with its call id in the X-Call-Id header.",
    ),
    Setting(
        "max_event_bytes", p.positive_int, "a positive whole number of bytes", "1000000",
        "Largest event body (UTF-8 JSON): fits Kafka's default 1 MiB request and RabbitMQ's "
        "message size. A larger manual event is a ValueError at the call; an auto-captured "
        "one has its largest values cut (named in data._truncated).",
    ),
    Setting(
        "timestamp_precision", p.choice(*TIMESTAMP_PRECISIONS), ", ".join(TIMESTAMP_PRECISIONS),
        "seconds", "Precision of the envelope's timestamp (truncated, never rounded up).",
    ),
    Setting(
        "amqp_uri", p.amqp_uri,
        "an amqp:// or amqps:// URI with a host, or several separated by ;",
        "amqp://guest:guest@localhost:5672//",
        "RabbitMQ URI of the amqp exporter.", secret=True,
    ),
    Setting(
        "amqp_timeout", p.positive_seconds, "a positive number of seconds, at most 3600", "5",
        "Connect, read and write timeout of the amqp exporter, in seconds.",
    ),
    Setting(
        "amqp_ssl_ca", p.existing_file, _FILE, "",
        "CA certificates (PEM) to verify RabbitMQ with; TLS is on for amqps:// or any "
        "EVENTLOG_AMQP_SSL_* setting.",
    ),
    Setting("amqp_ssl_cert", p.existing_file, _FILE, "", "Client certificate (PEM) for RabbitMQ."),
    Setting("amqp_ssl_key", p.existing_file, _FILE, "", "Client private key (PEM) for RabbitMQ."),
    Setting(
        "kafka_bootstrap_servers", p.host_ports,
        "a non-empty comma list of host:port", "localhost:9092",
        "Kafka bootstrap servers of the kafka exporter.", secret=True,
    ),
    Setting(
        "kafka_topic", p.topic_template, "a topic template using {service_name} and {event_type}",
        "{service_name}.events",
        "Topic template of the kafka exporter; {event_type} is the envelope's event type.",
    ),
    Setting(
        "kafka_topic_prefix", p.topic_affix, "text under 249 characters", "",
        "Text put before every Kafka topic name.",
    ),
    Setting(
        "kafka_topic_suffix", p.topic_affix, "text under 249 characters", "",
        "Text put after every Kafka topic name.",
    ),
    Setting(
        "kafka_partition_key", p.choice(*KAFKA_PARTITION_KEYS), ", ".join(KAFKA_PARTITION_KEYS),
        "outermost_call_id",
        "Kafka message key: the outermost call id keeps one call chain in one partition.",
    ),
    Setting(
        "kafka_max_block_ms", p.positive_millis, _MILLIS, "5000",
        "Longest time a Kafka send may block the export thread.",
    ),
    Setting(
        "kafka_security_protocol", p.choice(*KAFKA_SECURITY_PROTOCOLS),
        ", ".join(KAFKA_SECURITY_PROTOCOLS), "PLAINTEXT", "Kafka security protocol.",
    ),
    Setting("kafka_ssl_cafile", p.existing_file, _FILE, "", "CA certificates (PEM) for Kafka."),
    Setting(
        "kafka_ssl_certfile", p.existing_file, _FILE, "", "Client certificate (PEM) for Kafka.",
    ),
    Setting("kafka_ssl_keyfile", p.existing_file, _FILE, "", "Client private key (PEM) for Kafka."),
    Setting(
        "kafka_sasl_mechanism", p.optional_choice(*p.KAFKA_SASL_MECHANISMS),
        ", ".join(p.KAFKA_SASL_MECHANISMS) + " or empty", "",
        "Kafka SASL mechanism (with SASL_PLAINTEXT or SASL_SSL).",
    ),
    Setting("kafka_sasl_username", p.text, "a user name", "", "Kafka SASL user name."),
    Setting(
        "kafka_sasl_password", p.text, "a password", "", "Kafka SASL password.", password=True,
    ),
    Setting(
        "max_value_length", p.positive_int, "a positive whole number of characters", "4096",
        "Longest text of an auto-captured attribute or data value; longer ones are cut and "
        "named in data._truncated.",
    ),
    Setting(
        "bsp_max_queue_size", p.positive_int, "a positive whole number", "16384",
        "Events buffered per exporter before new ones are dropped (and counted).",
        otel_env="OTEL_BSP_MAX_QUEUE_SIZE",
    ),
    Setting(
        "bsp_max_export_batch_size", p.positive_int, "a positive whole number", "512",
        "Most events published in one batch.", otel_env="OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    ),
    Setting(
        "bsp_schedule_delay", p.positive_millis, _MILLIS, "500",
        "Longest time an event waits in the buffer before its batch is published.",
        otel_env="OTEL_BSP_SCHEDULE_DELAY",
    ),
    Setting(
        "bsp_export_timeout", p.positive_millis, _MILLIS, "10000",
        "Longest time one publish attempt of a batch may take before it is retried.",
        otel_env="OTEL_BSP_EXPORT_TIMEOUT",
    ),
    Setting(
        "shutdown_timeout", p.positive_millis, _MILLIS, "5000",
        "Longest time pending events are flushed for at exit.",
    ),
    Setting(
        "sdk_disabled", p.boolean, "true or false", "false",
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
        option = options.get(setting.name)
        if setting.name in options and not isinstance(option, str) and (
            _as_text(option) is None
        ):
            values[setting.name] = option
            sources[setting.name] = "option"
            continue
        raw, source = _raw_value(setting, environ, options)
        values[setting.name] = _parse(setting, raw, setting.name if source == "option" else source)
        sources[setting.name] = source
    if not values["service_name"]:
        resource_name = _service_name_from_resource(environ)
        values["service_name"] = _parse(
            SETTINGS_BY_NAME["service_name"], resource_name, "OTEL_RESOURCE_ATTRIBUTES service.name"
        ) or DEFAULT_SERVICE_NAME
    return Settings(values, sources)


_SHOWN_LENGTH = 200
"""Most characters of a bad value quoted in its error."""


def _parse(setting: Setting, raw: str, origin: str) -> Any:
    try:
        return setting.parse(raw)
    except (ValueError, KeyError, IndexError, re.error) as error:
        shown = "***" if setting.password else mask_secret(raw) if setting.secret else raw
        if len(shown) > _SHOWN_LENGTH:
            shown = shown[:_SHOWN_LENGTH] + "..."
        raise SettingsError(
            f"{origin}={shown!r} is invalid: expected {setting.accepted}"
        ) from error


def _as_text(value: Any) -> str | None:
    """An option given as a number, a boolean or a list of texts, as its variable's text;
    ``None`` for anything else (compiled patterns, say), which is taken as it is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    return None


def _raw_value(
    setting: Setting, environ: Mapping[str, str], options: Mapping[str, Any]
) -> tuple[str, str]:
    if setting.name in options:
        option = options[setting.name]
        return option if isinstance(option, str) else _as_text(option) or "", "option"
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
