"""Secrets and settings under hostile values (issue 12, items 12 and 15).

Every credential of every URI form the clients accept stays masked wherever the
package prints (``--info``, the exporter's warnings, ``eventlog check``), and every bad
setting is one line at start-up naming the variable, the value and what is accepted,
never a traceback and never a failure later.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventlog_instrument import EventLogInstrumentor, dispatch_event
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.masking import mask_uri
from eventlog_instrument.setting_parsers import MAX_SECONDS
from eventlog_instrument.settings import SETTINGS, SettingsError, load_settings
from tests.support.waiting import free_port, wait_until

BIN = Path(sys.executable).parent
PASSWORDS = ("s3cr#t", "s3/cr3t", "s3cr?t", "p@ss:w0rd", "pä%ss")
"""Passwords as users write them, not percent-encoded."""


def clean_env(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTLOG_", "OTEL_"))}
    return {**environ, **extra}


def run(command: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / command), *args], env=clean_env(**env), capture_output=True,
                          text=True, timeout=60)


def fragments(password: str) -> list[str]:
    """The parts of a password a parser that stops at a delimiter would show."""
    parts = [password, *password.replace("#", " ").replace("/", " ").replace("?", " ")
             .replace("@", " ").replace(":", " ").split()]
    return [part for part in parts if len(part) >= 3 and part not in ("app", "ops")]


@pytest.mark.parametrize("password", PASSWORDS)
def test_info_masks_passwords_that_are_not_percent_encoded(password):
    uri = f"amqp://app:{password}@rabbit:5672//;amqp://ops:{password}2@rabbit2//"
    result = run("eventlog-instrument", "--exporters", "amqp", "--info", EVENTLOG_AMQP_URI=uri)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "EVENTLOG_AMQP_URI" in line)
    assert "amqp://app:***@rabbit:5672//;amqp://ops:***@rabbit2//" in line
    for fragment in fragments(password):
        assert fragment not in result.stdout


@pytest.mark.parametrize("password", PASSWORDS)
def test_eventlog_check_reports_one_masked_line_for_any_password(password):
    uri = f"amqp://app:{password}@127.0.0.1:{free_port()}//"
    result = run("eventlog", "check", EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=uri,
                 EVENTLOG_AMQP_TIMEOUT="1")
    assert result.returncode == 3, result.stderr
    assert result.stderr == "" and "Traceback" not in result.stdout
    [line] = result.stdout.splitlines()
    assert line.startswith("amqp     FAILED broker unreachable (amqp://app:***@127.0.0.1:")
    for fragment in fragments(password):
        assert fragment not in result.stdout


def test_exporter_warnings_mask_every_password_of_a_failover_list(caplog):
    first, second = free_port(), free_port()
    uri = f"amqp://app:s3cr#t@127.0.0.1:{first}//;amqp://app:an/other?one@127.0.0.1:{second}//"
    exporter = AmqpEventExporter(load_settings({}, amqp_uri=uri, amqp_timeout=1))
    EventLogInstrumentor().instrument(exporters=[exporter], service_name="masked",
                                      shutdown_timeout=300)
    try:
        with caplog.at_level(logging.DEBUG):
            dispatch_event("hello")
            wait_until(lambda: "amqp exporter cannot publish" in caplog.text, 20, "the warning")
    finally:
        EventLogInstrumentor().uninstrument()
    assert "app:***@127.0.0.1" in caplog.text
    for fragment in ("s3cr", "an/other", "other?one", "one@"):
        assert fragment not in caplog.text


def test_masking_keeps_everything_but_the_password():
    assert mask_uri("amqps://u:p;w@h:5671/v") == "amqps://u:***@h:5671/v"
    assert mask_uri("amqp://h1//;amqp://u@h2//") == "amqp://h1//;amqp://u@h2//"
    assert mask_uri("user:pa:ss@broker:9092,other:9092") == "user:***@broker:9092,other:9092"


def test_a_scheme_inside_a_password_starts_no_new_uri():
    assert mask_uri("amqp://guest:a://Zq9xK@") == "amqp://guest:***@"
    assert mask_uri("amqp://g:a://Zq9xK@h//;amqp://u:x://y@h2//") == "amqp://g:***@h//;amqp://u:***@h2//"
    result = run("eventlog", "check", EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI="amqp://guest:a://Zq9xK@")
    assert result.returncode == 2 and "Zq9xK" not in result.stdout + result.stderr
    assert "EVENTLOG_AMQP_URI='amqp://guest:***@' is invalid" in result.stderr


def test_a_password_with_delimiters_reaches_kombu_whole():
    from kombu.utils.url import url_to_parts

    uri = load_settings({}, amqp_uri="amqp://app:s3/cr#t?x@rabbit:5672/vhost").amqp_uri
    parts = url_to_parts(uri)
    assert (parts.username, parts.password, parts.hostname, parts.port, parts.path) == (
        "app", "s3/cr#t?x", "rabbit", 5672, "vhost",
    )


HUGE_MILLIS = "100000000000000000000"


@pytest.mark.parametrize(("environ", "message"), [
    ({"EVENTLOG_AMQP_URI": "not-a-uri"}, "EVENTLOG_AMQP_URI='not-a-uri' is invalid: expected an amqp:// or amqps:// URI with a host, or several separated by ;"),
    ({"EVENTLOG_AMQP_URI": "memory://"}, "EVENTLOG_AMQP_URI='memory://' is invalid: expected an amqp:// or amqps:// URI with a host, or several separated by ;"),
    ({"EVENTLOG_AMQP_URI": "amqp://u:pw@:5672//"}, "EVENTLOG_AMQP_URI='amqp://u:***@:5672//' is invalid: expected an amqp:// or amqps:// URI with a host, or several separated by ;"),
    ({"EVENTLOG_AMQP_SSL_CA": "/no/such/ca.pem"}, "EVENTLOG_AMQP_SSL_CA='/no/such/ca.pem' is invalid: expected a readable file's path, or empty"),
    ({"EVENTLOG_KAFKA_SSL_KEYFILE": "/no/key.pem"}, "EVENTLOG_KAFKA_SSL_KEYFILE='/no/key.pem' is invalid: expected a readable file's path, or empty"),
    ({"EVENTLOG_KAFKA_BOOTSTRAP_SERVERS": ""}, "EVENTLOG_KAFKA_BOOTSTRAP_SERVERS='' is invalid: expected a non-empty comma list of host:port"),
    ({"EVENTLOG_KAFKA_BOOTSTRAP_SERVERS": "broker:port"}, "EVENTLOG_KAFKA_BOOTSTRAP_SERVERS='broker:port' is invalid: expected a non-empty comma list of host:port"),
    ({"EVENTLOG_KAFKA_SASL_MECHANISM": "BOGUS"}, "EVENTLOG_KAFKA_SASL_MECHANISM='BOGUS' is invalid: expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or empty"),
    ({"EVENTLOG_AMQP_TIMEOUT": "1e300"}, "EVENTLOG_AMQP_TIMEOUT='1e300' is invalid: expected a positive number of seconds, at most 3600"),
    ({"EVENTLOG_AMQP_TIMEOUT": "nan"}, "EVENTLOG_AMQP_TIMEOUT='nan' is invalid: expected a positive number of seconds, at most 3600"),
    ({"EVENTLOG_EXPORTERS": ""}, "EVENTLOG_EXPORTERS='' is invalid: expected a comma list of exporter names (none for no exporter)"),
    ({"EVENTLOG_EXPORTERS": " , "}, "EVENTLOG_EXPORTERS=' , ' is invalid: expected a comma list of exporter names (none for no exporter)"),
    ({"EVENTLOG_SERVICE_NAME": "s" * 249}, f"EVENTLOG_SERVICE_NAME='{'s' * 200}...' is invalid: expected a name of at most 248 bytes without control characters"),
    ({"EVENTLOG_SERVICE_NAME": "orders\r\nX-Evil: 1"}, "EVENTLOG_SERVICE_NAME='orders\\r\\nX-Evil: 1' is invalid: expected a name of at most 248 bytes without control characters"),
    ({"EVENTLOG_EVENT_TYPE": "e" * 256}, f"EVENTLOG_EVENT_TYPE='{'e' * 200}...' is invalid: expected a name of 1 to 255 bytes without control characters"),
    ({"EVENTLOG_KAFKA_TOPIC": "{service_name.__class__}"}, "EVENTLOG_KAFKA_TOPIC='{service_name.__class__}' is invalid: expected a topic template using {service_name} and {event_type}"),
    ({"EVENTLOG_KAFKA_TOPIC_PREFIX": "p" * 249}, f"EVENTLOG_KAFKA_TOPIC_PREFIX='{'p' * 200}...' is invalid: expected text under 249 characters"),
    ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=" + "r" * 300}, f"OTEL_RESOURCE_ATTRIBUTES service.name='{'r' * 200}...' is invalid: expected a name of at most 248 bytes without control characters"),
    *[({setting.env: HUGE_MILLIS}, f"{setting.env}='{HUGE_MILLIS}' is invalid: expected a positive whole number of milliseconds, at most 3600000")
      for setting in SETTINGS if setting.accepted.endswith("milliseconds, at most 3600000")],
])
def test_settings_that_would_fail_later_fail_at_start_up(environ, message):
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    assert str(raised.value) == message
    result = run("eventlog-instrument", "--info", **environ)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"eventlog-instrument: error: {message}\n"


def test_instrument_checks_options_given_as_numbers_too():
    with pytest.raises(SettingsError, match=r"^shutdown_timeout='1e\+20' is invalid"):
        EventLogInstrumentor().instrument(exporters="none", shutdown_timeout=1e20)
    assert not EventLogInstrumentor().is_instrumented


def test_the_scrub_denylist_setting_adds_to_the_defaults_and_empty_keeps_them():
    assert load_settings({"EVENTLOG_SCRUB_DENYLIST": ""}).scrub_denylist == load_settings({}).scrub_denylist
    extended = load_settings({"EVENTLOG_SCRUB_DENYLIST": "X-Internal, tenant"}).scrub_denylist
    assert {"auth", "cookie", "token", "x-internal", "tenant"} <= set(extended)


HOSTILE_TEXT = st.one_of(
    st.sampled_from(["", " ", "\t", "-1", "0", "1e309", "-1e309", "nan", "inf", "1e20", HUGE_MILLIS,
                     "9" * 400, "true", "none", ",", ";", "://", "amqp://", "日本", "\u00e9", "a\r\nb"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            max_size=60),
)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from([setting.env for setting in SETTINGS]), value=HOSTILE_TEXT)
def test_any_value_of_any_setting_is_accepted_within_bounds_or_one_clear_line(name, value):
    try:
        parsed = load_settings({name: value})
    except SettingsError as error:
        text = str(error)
        assert text.startswith(f"{name}=") and "\n" not in text and "is invalid: expected" in text
        return
    for setting in SETTINGS:
        number = getattr(parsed, setting.name)
        if setting.accepted.endswith("milliseconds, at most 3600000"):
            assert 0 < number <= MAX_SECONDS * 1000
        elif setting.name == "amqp_timeout":
            assert 0 < number <= MAX_SECONDS
    assert parsed.exporters and parsed.kafka_bootstrap_servers
    assert "\n" not in parsed.service_name and "\r" not in parsed.event_type
