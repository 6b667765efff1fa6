"""The console on an output that cannot encode every character, ``instrument()`` options
of any type, ``eventlog publish`` and non-finite numbers (review of issue 12)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from eventlog_instrument import EventLogInstrumentor
from eventlog_instrument.exporters.memory import InMemoryEventExporter
from eventlog_instrument.settings import SettingsError
from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.paths import TESTS

BIN = Path(sys.executable).parent


def clean_environ(**settings: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTLOG_", "OTEL_"))}
    return {**environ, **settings}


def refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not strict JSON")


def test_an_ascii_console_writes_every_event_as_strict_json():
    program = (
        "import sys\n"
        "from eventlog_instrument import EventLogInstrumentor, dispatch_event\n"
        "EventLogInstrumentor().instrument()\n"
        "for n in range(10):\n"
        "    dispatch_event('plain', {'n': n})\n"
        "dispatch_event('poison', {'n': 10, 'city': '\\u65e5\\u672c \\U0001f600 caf\\u00e9'})\n"
        "for n in range(11, 21):\n"
        "    dispatch_event('plain', {'n': n})\n"
        "assert EventLogInstrumentor().force_flush(5000)\n"
        "[p] = EventLogInstrumentor().processors\n"
        "print(p.accepted, p.exported, sum(p.dropped_by_reason.values()), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, timeout=30, cwd=TESTS.parent,
        env=clean_environ(PYTHONIOENCODING="ascii", EVENTLOG_BSP_SCHEDULE_DELAY="60000"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode().splitlines()[-1] == "21 21 0"
    events = [json.loads(line, parse_constant=refuse_constant) for line in result.stdout.splitlines()]
    assert [event["data"]["n"] for event in events] == list(range(21))
    assert events[10]["data"]["city"] == "\u65e5\u672c \U0001f600 caf\u00e9"


@pytest.mark.parametrize(("options", "message"), [
    ({"max_event_bytes": None}, "max_event_bytes: a value of type NoneType is not accepted: expected a positive whole number of bytes"),
    ({"shutdown_timeout": None}, "shutdown_timeout: a value of type NoneType is not accepted: expected a positive whole number of milliseconds"),
    ({"bsp_max_queue_size": object()}, "bsp_max_queue_size: a value of type object is not accepted: expected a positive whole number"),
    ({"amqp_uri": b"amqp://guest:s3cr3t@127.0.0.1:5672//"}, "amqp_uri: a value of type bytes is not accepted: expected an amqp:// or amqps:// URI"),
    ({"event_type": b"x"}, "event_type: a value of type bytes is not accepted"),
    ({"max_event_bytes": 1.5}, "max_event_bytes='1.5' is invalid: expected a positive whole number of bytes"),
    ({"flask_excluded_urls": [re.compile("^/health$"), "("]}, "flask_excluded_urls: a bad pattern"),
    ({"exporters": [InMemoryEventExporter(), 3]}, "exporters: an item of type int is not accepted: expected a comma list of exporter names, or a list of names and SpanExporter objects"),
    ({"exporters": b"console"}, "exporters: an item of type bytes is not accepted"),
    ({"exporters": ["console", "nosuch"]}, "EVENTLOG_EXPORTERS='console,nosuch' is invalid: unknown exporter 'nosuch'"),
])
def test_options_of_any_type_are_checked_at_start_up(options, message):
    with pytest.raises(SettingsError) as raised:
        EventLogInstrumentor().instrument(**{"exporters": [InMemoryEventExporter()], **options})
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
    assert "s3cr3t" not in str(raised.value)
    assert not EventLogInstrumentor().is_instrumented


def test_exporters_may_mix_names_and_objects(capsys):
    memory = InMemoryEventExporter()
    EventLogInstrumentor().instrument(
        exporters=["console", memory], flask_excluded_urls=[re.compile("^/health$"), "^/ping$"],
    )
    try:
        names = [p.name for p in EventLogInstrumentor().processors]
        patterns = [p.pattern for p in EventLogInstrumentor().settings.flask_excluded_urls]
    finally:
        EventLogInstrumentor().uninstrument()
    assert names == ["InMemoryEventExporter", "ConsoleEventExporter"]
    assert patterns == ["^/health$", "^/ping$"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_eventlog_publish_refuses_non_finite_numbers(rabbitmq, service_name, tmp_path, constant):
    queue = BoundQueue(service_name)
    envelope = (
        f'{{"service_name":"{service_name}","entrypoint_protocol":"x","entrypoint_name":"e",'
        f'"call_id":"c","call_stack":["c"],"timestamp":"t","event_type":"x","data":{{"v":{constant}}}}}'
    )
    (tmp_path / "envelope.json").write_text(envelope)
    result = subprocess.run(
        [str(BIN / "eventlog"), "publish", str(tmp_path / "envelope.json")], capture_output=True,
        text=True, timeout=60, env=clean_environ(EVENTLOG_AMQP_URI=AMQP_URI),
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and f"{constant} is not JSON" in result.stderr
    assert queue.rest(0.3) == []
    queue.close()
