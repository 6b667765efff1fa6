"""The settings table: environment, OpenTelemetry fallbacks, exact errors, masking."""

from __future__ import annotations

import pytest

from eventlog_instrument import EventLogInstrumentor, SettingsError
from eventlog_instrument.exporters.registry import create_exporters
from eventlog_instrument.masking import mask_uri
from eventlog_instrument.settings import SETTINGS, display_value, load_settings


def test_defaults_without_any_configuration():
    settings = load_settings({})
    assert settings.exporters == ("console",)
    assert settings.event_type == "log_event"
    assert settings.service_name == "unknown_service"
    assert settings.timestamp_precision == "seconds"
    assert settings.bsp_max_queue_size == 16384
    assert settings.sources["exporters"] == "default"


def test_every_setting_is_an_eventlog_variable_with_help():
    for setting in SETTINGS:
        assert setting.env.startswith("EVENTLOG_") and setting.help and setting.accepted
    assert {s.env for s in SETTINGS} >= {
        "EVENTLOG_EXPORTERS", "EVENTLOG_AMQP_URI", "EVENTLOG_KAFKA_BOOTSTRAP_SERVERS",
        "EVENTLOG_DISABLED_INSTRUMENTATIONS", "EVENTLOG_ENTRYPOINTS_TO_EXCLUDE",
        "EVENTLOG_EVENT_TYPE",
    }


def test_eventlog_variable_wins_over_otel_variable_which_wins_over_default():
    environ = {"OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_SCHEDULE_DELAY": "50"}
    settings = load_settings({**environ, "EVENTLOG_BSP_MAX_QUEUE_SIZE": "7"})
    assert settings.bsp_max_queue_size == 7
    assert settings.bsp_schedule_delay == 50
    assert settings.sources["bsp_schedule_delay"] == "OTEL_BSP_SCHEDULE_DELAY"


def test_service_name_from_otel_service_name_then_resource_attributes():
    resource = {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=orders"}
    assert load_settings(resource).service_name == "orders"
    assert load_settings({**resource, "OTEL_SERVICE_NAME": "billing"}).service_name == "billing"
    assert load_settings({"EVENTLOG_SERVICE_NAME": "gateway", "OTEL_SERVICE_NAME": "billing"}).service_name == "gateway"


def test_options_win_over_the_environment():
    settings = load_settings({"EVENTLOG_EVENT_TYPE": "audit"}, event_type="trace", bsp_max_queue_size=5)
    assert (settings.event_type, settings.bsp_max_queue_size) == ("trace", 5)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"EVENTLOG_TIMESTAMP_PRECISION": "minutes"},
         "EVENTLOG_TIMESTAMP_PRECISION='minutes' is invalid: expected seconds, milliseconds, microseconds"),
        ({"EVENTLOG_BSP_MAX_QUEUE_SIZE": "-3"},
         "EVENTLOG_BSP_MAX_QUEUE_SIZE='-3' is invalid: expected a positive whole number"),
        ({"OTEL_BSP_SCHEDULE_DELAY": "soon"},
         "OTEL_BSP_SCHEDULE_DELAY='soon' is invalid: expected a positive whole number of milliseconds, at most 3600000"),
        ({"EVENTLOG_KAFKA_PARTITION_KEY": "random"},
         "EVENTLOG_KAFKA_PARTITION_KEY='random' is invalid: expected outermost_call_id, call_id, service_name, none"),
        ({"EVENTLOG_KAFKA_TOPIC": "{tenant}.events"},
         "EVENTLOG_KAFKA_TOPIC='{tenant}.events' is invalid: expected a topic template using {service_name} and {event_type}"),
        ({"OTEL_SDK_DISABLED": "maybe"},
         "OTEL_SDK_DISABLED='maybe' is invalid: expected true or false"),
        ({"EVENTLOG_EVENT_TYPE": " "},
         "EVENTLOG_EVENT_TYPE=' ' is invalid: expected a name of 1 to 255 bytes without control characters"),
        ({"EVENTLOG_AMQP_TIMEOUT": "0"},
         "EVENTLOG_AMQP_TIMEOUT='0' is invalid: expected a positive number of seconds, at most 3600"),
    ],
)
def test_bad_values_name_the_variable_the_value_and_what_is_accepted(environ, message):
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    assert str(raised.value) == message


def test_bad_option_is_named_as_the_option():
    with pytest.raises(SettingsError) as raised:
        load_settings({}, timestamp_precision="days")
    assert str(raised.value) == (
        "timestamp_precision='days' is invalid: expected seconds, milliseconds, microseconds"
    )
    with pytest.raises(SettingsError, match="unknown option 'exporter': accepted options are service_name, exporters"):
        load_settings({}, exporter="amqp")


def test_unknown_exporter_names_the_registered_ones():
    with pytest.raises(SettingsError) as raised:
        create_exporters(load_settings({"EVENTLOG_EXPORTERS": "amqp,carrier-pigeon"}))
    assert str(raised.value) == (
        "EVENTLOG_EXPORTERS='amqp,carrier-pigeon' is invalid: unknown exporter "
        "'carrier-pigeon'; accepted: amqp, console, kafka, memory, none"
    )


def test_bad_value_fails_instrument_and_leaves_nothing_running(monkeypatch):
    monkeypatch.setenv("EVENTLOG_EXPORTERS", "console,nope")
    with pytest.raises(SettingsError, match="unknown exporter 'nope'"):
        EventLogInstrumentor().instrument()
    assert not EventLogInstrumentor().is_instrumented
    assert EventLogInstrumentor().processors == []


def test_otel_sdk_disabled_turns_the_package_off(monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    EventLogInstrumentor().instrument()
    assert not EventLogInstrumentor().is_instrumented


def test_credentials_are_masked_when_shown():
    assert mask_uri("amqp://admin:s3cr3t@rabbit:5672/prod") == "amqp://admin:***@rabbit:5672/prod"
    assert mask_uri("amqp://rabbit:5672/") == "amqp://rabbit:5672/"
    settings = load_settings({"EVENTLOG_AMQP_URI": "amqps://admin:s3cr3t@rabbit/"})
    assert display_value("amqp_uri", settings) == "amqps://admin:***@rabbit/"
    assert "s3cr3t" not in repr(settings)
    with pytest.raises(SettingsError) as raised:
        load_settings({"EVENTLOG_AMQP_URI": "  "})
    assert "s3cr3t" not in str(raised.value)


def test_log_level_numbers_are_the_standard_librarys() -> None:
    import logging

    from eventlog_instrument.log_settings import LEVEL_NUMBERS

    assert {name: logging.getLevelName(name) for name in LEVEL_NUMBERS} == LEVEL_NUMBERS
