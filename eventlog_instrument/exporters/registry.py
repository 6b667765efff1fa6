"""Exporters: OpenTelemetry ``SpanExporter``s that publish events, found by entry point.

Built in: ``console``, ``memory``, ``amqp`` and ``kafka``; ``none`` selects no exporter.
A third-party exporter is registered under the ``eventlog_instrument.exporters``
entry-point group; its class is built with ``from_settings(settings)`` when it has that
class method, else with no arguments.
"""

from __future__ import annotations

from eventlog_instrument import TYPE_CHECKING
from eventlog_instrument.constants import EXPORTERS_ENTRY_POINT_GROUP
from eventlog_instrument.settings import SETTINGS_BY_NAME, Settings, SettingsError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

NO_EXPORTER = "none"
BUILT_IN = frozenset({"console", "memory", "amqp", "kafka"})
"""The exporters this package registers itself: checking them needs no entry-point scan,
whose ``importlib.metadata`` import would cost the launcher a third of its start-up."""


def available_exporters() -> dict[str, str]:
    """Registered exporter names and the ``module:Class`` each one loads."""
    from importlib.metadata import entry_points

    return {
        entry_point.name: entry_point.value
        for entry_point in entry_points(group=EXPORTERS_ENTRY_POINT_GROUP)
    }


def check_exporter_names(names: tuple[str, ...]) -> None:
    """Raise :class:`SettingsError` naming the first unknown exporter and the accepted ones."""
    if all(name == NO_EXPORTER or name in BUILT_IN for name in names):
        return
    known = available_exporters()
    for name in names:
        if name != NO_EXPORTER and name not in known:
            accepted = ", ".join(sorted([*known, NO_EXPORTER]))
            raise SettingsError(
                f"{SETTINGS_BY_NAME['exporters'].env}={','.join(names)!r} is invalid: "
                f"unknown exporter {name!r}; accepted: {accepted}"
            )


def create_exporters(settings: Settings) -> list[SpanExporter]:
    """One exporter for each name of ``settings.exporters``, in order."""
    from importlib.metadata import entry_points

    check_exporter_names(settings.exporters)
    found = {
        entry_point.name: entry_point
        for entry_point in entry_points(group=EXPORTERS_ENTRY_POINT_GROUP)
    }
    exporters = []
    for name in dict.fromkeys(settings.exporters):
        if name == NO_EXPORTER:
            continue
        exporter_class = found[name].load()
        from_settings = getattr(exporter_class, "from_settings", None)
        exporters.append(from_settings(settings) if from_settings else exporter_class())
    return exporters
