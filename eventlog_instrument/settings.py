"""The settings table: every ``EVENTLOG_*`` variable, its type, default and help.

This table is the single source of truth for environment variables, the launcher's
flags, ``--info`` and the README's configuration section. Each row is declared once, as
a typed attribute (:mod:`eventlog_instrument.setting_row`): the core rows below, an
exporter's or instrumentor's own rows beside its code (``exporters/amqp_settings.py``,
``instrumentors/http_settings.py``, ...), in classes :class:`Settings` inherits.
Standard OpenTelemetry variables are honoured as fallbacks where one exists
(``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_BSP_*``,
``OTEL_SDK_DISABLED``). A bad value is a :class:`SettingsError` that names the
variable, the value and what is accepted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from eventlog_instrument import TYPE_CHECKING
from eventlog_instrument import setting_parsers as p
from eventlog_instrument.constants import DEFAULT_EVENT_TYPE
from eventlog_instrument.exporters.amqp_settings import AmqpSettings
from eventlog_instrument.exporters.kafka_settings import KafkaSettings
from eventlog_instrument.instrumentors.django_settings import DjangoSettings
from eventlog_instrument.instrumentors.http_settings import HttpSettings
from eventlog_instrument.instrumentors.nameko_settings import NamekoSettings
from eventlog_instrument.log_settings import LogSettings
from eventlog_instrument.masking import mask_secret
from eventlog_instrument.setting_row import MILLIS, Setting, rows_of

if TYPE_CHECKING:
    from typing import Any

TIMESTAMP_PRECISIONS = ("seconds", "milliseconds", "microseconds")
DEFAULT_SERVICE_NAME = "unknown_service"


class SettingsError(ValueError):
    """A setting has a value that is not accepted."""


DEFAULT_SCRUB_DENYLIST = (
    "auth", "cookie", "token", "password", "passwd", "secret", "api-key", "api_key", "apikey",
    "session", "csrf",
)
"""Name fragments that are always scrubbed: ``auth`` covers ``Authorization`` and ``X-Auth``."""


def _denylist(value: str) -> tuple[str, ...]:
    """The built-in fragments plus the given ones: a setting can add, never silently drop."""
    extra = tuple(name.lower() for name in p.names(value))
    return tuple(dict.fromkeys((*DEFAULT_SCRUB_DENYLIST, *extra)))





class Settings(
    HttpSettings, NamekoSettings, AmqpSettings, KafkaSettings, DjangoSettings, LogSettings
):
    """Effective configuration: each attribute a row of the settings table, in its order."""
    service_name = Setting(
        parse=p.service_name,
        accepted="a name of at most 248 bytes without control characters",
        default="",
        help="Service name for events outside a framework that names its own service "
        "(Nameko always uses its service's name). Falls back to OTEL_SERVICE_NAME, then "
        f"service.name in OTEL_RESOURCE_ATTRIBUTES, then '{DEFAULT_SERVICE_NAME}'.",
        otel_env="OTEL_SERVICE_NAME",
    )
    exporters = Setting(
        parse=p.non_empty_names,
        accepted="a comma list of exporter names (none for no exporter)",
        default="console",
        help="Exporters that publish events: console, amqp, kafka, memory, none, or any "
        "exporter registered under the eventlog_instrument.exporters entry-point group.",
    )
    disabled_instrumentations = Setting(
        parse=p.names,
        accepted="a comma list of instrumentor names, or *",
        default="",
        help="Instrumentors not to enable (nameko, flask, celery, ...); * disables all.",
    )
    event_type = Setting(
        parse=p.routing_key,
        accepted="a name of 1 to 255 bytes without control characters",
        default=DEFAULT_EVENT_TYPE,
        help="Nameko event type that carries every envelope: the AMQP routing key.",
    )
    entrypoints_to_exclude = Setting(
        parse=p.names,
        accepted="a comma list of entrypoint names",
        default="",
        help="Entrypoint (method, endpoint or task) names that produce no entrypoint_fired event.",
    )
    scrub_denylist = Setting(
        parse=_denylist,
        accepted="a comma list of name fragments",
        default="",
        help="Name fragments added to the built-in ones (" + ",".join(DEFAULT_SCRUB_DENYLIST)
        + "): a captured header whose lower-cased name contains one is exported as ***.",
    )
    scrub_patterns = Setting(
        parse=p.regexes,
        accepted="a comma list of regular expressions",
        default="",
        help="Patterns added to the built-in ones (URI credentials, Bearer/Basic tokens, card "
        "numbers, the values of secret-named key=value pairs such as password=...): every match "
        "in captured free text (error and log messages) is exported as ***.",
    )
    max_event_bytes = Setting(
        parse=p.positive_int,
        accepted="a positive whole number of bytes",
        default="1000000",
        help="Largest event body (UTF-8 JSON): fits Kafka's default 1 MiB request and RabbitMQ's "
        "message size. A larger manual event is a ValueError at the call; an auto-captured "
        "one has its largest values cut (named in data._truncated).",
    )
    timestamp_precision = Setting(
        parse=p.choice(*TIMESTAMP_PRECISIONS),
        accepted=", ".join(TIMESTAMP_PRECISIONS),
        default="seconds",
        help="Precision of the envelope's timestamp (truncated, never rounded up).",
    )
    max_value_length = Setting(
        parse=p.positive_int,
        accepted="a positive whole number of characters",
        default="4096",
        help="Longest text of an auto-captured attribute or data value; longer ones are cut and "
        "named in data._truncated.",
    )
    bsp_max_queue_size = Setting(
        parse=p.positive_int,
        accepted="a positive whole number",
        default="16384",
        help="Events buffered per exporter before new ones are dropped (and counted).",
        otel_env="OTEL_BSP_MAX_QUEUE_SIZE",
    )
    bsp_max_export_batch_size = Setting(
        parse=p.positive_int,
        accepted="a positive whole number",
        default="512",
        help="Most events published in one batch.",
        otel_env="OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    )
    bsp_schedule_delay = Setting(
        parse=p.positive_millis,
        accepted=MILLIS,
        default="500",
        help="Longest time an event waits in the buffer before its batch is published.",
        otel_env="OTEL_BSP_SCHEDULE_DELAY",
    )
    bsp_export_timeout = Setting(
        parse=p.positive_millis,
        accepted=MILLIS,
        default="10000",
        help="Longest time one publish attempt of a batch may take before it is retried.",
        otel_env="OTEL_BSP_EXPORT_TIMEOUT",
    )
    shutdown_timeout = Setting(
        parse=p.positive_millis,
        accepted=MILLIS,
        default="5000",
        help="Longest time pending events are flushed for at exit.",
    )
    sdk_disabled = Setting(
        parse=p.boolean,
        accepted="true or false",
        default="false",
        help="Turns the whole package off.",
        otel_env="OTEL_SDK_DISABLED",
    )

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
        self._values = dict(values)
        self.sources = dict(sources)
        """For each setting, where its value came from: an env var name, option or default."""

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={display_value(name, self)!r}" for name in SETTINGS_BY_NAME)
        return f"Settings({shown})"


SETTINGS: tuple[Setting[Any], ...] = rows_of(*Settings.__mro__)
"""The settings table, in declaration order."""
SETTINGS_BY_NAME: dict[str, Setting[Any]] = {setting.name: setting for setting in SETTINGS}


def load_settings(
    environ: Mapping[str, str] | None = None, **options: Any
) -> Settings:
    """Read every setting: ``options`` first, then ``EVENTLOG_*``, then ``OTEL_*``, then defaults.

    ``options`` are keyword arguments of ``instrument()`` named as in the table. A text
    value is parsed like the environment variable; so is a number, a boolean or a list
    of texts, as the text its variable would hold; a pattern setting also takes compiled
    patterns. Raises :class:`SettingsError` for an unknown option or a bad value,
    whatever its type.
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
        if setting.name in options and not isinstance(option, str):
            values[setting.name] = _parse_option(setting, option)
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


def _parse(setting: Setting[Any], raw: str, origin: str) -> Any:
    try:
        return setting.parse(raw)
    except (ValueError, KeyError, IndexError, re.error) as error:
        shown = "***" if setting.password else mask_secret(raw) if setting.secret else raw
        if len(shown) > _SHOWN_LENGTH:
            shown = shown[:_SHOWN_LENGTH] + "..."
        raise SettingsError(
            f"{origin}={shown!r} is invalid: expected {setting.accepted}"
        ) from error


def _parse_option(setting: Setting[Any], value: Any) -> Any:
    """An option given as another type than text, checked like its variable."""
    if setting.parse is p.regexes and _all_patterns(value):
        items = [value] if isinstance(value, re.Pattern) else value
        try:
            return tuple(re.compile(item) for item in items)
        except re.error as error:
            raise SettingsError(
                f"{setting.name}: a bad pattern ({error}): expected {setting.accepted}"
            ) from None
    text = _as_text(value)
    if text is None:
        raise SettingsError(
            f"{setting.name}: a value of type {type(value).__name__} is not accepted: expected "
            f"{setting.accepted}, as text (or a number, true/false, a list of texts)"
        )
    return _parse(setting, text, setting.name)


def _all_patterns(value: Any) -> bool:
    if isinstance(value, re.Pattern):
        return True
    return isinstance(value, (list, tuple)) and all(
        isinstance(item, (str, re.Pattern)) for item in value
    )


def _as_text(value: Any) -> str | None:
    """An option given as a number, a boolean or a list of texts, as its variable's text;
    ``None`` for any other type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    return None


def _raw_value(
    setting: Setting[Any], environ: Mapping[str, str], options: Mapping[str, Any]
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
