"""``eventlog tail --level`` and the text format's log records, against the real RabbitMQ."""

from __future__ import annotations

import json

from tests.test_tools import Tail, envelope, publish_amqp, run_tool


def logs(*records: tuple[str, str], **extra) -> dict:
    return {"logs": [{"level": level, "logger": "app", "message": message, "offset_ms": 1.25 * n}
                     for n, (level, message) in enumerate(records)], **extra}


def test_tail_level_keeps_events_with_a_record_at_or_above_it_and_prints_them_indented(
    rabbitmq, service_name
):
    text = Tail("--service", service_name, "--level", "warning", "--format", "text", "--count", "2")
    as_json = Tail("--service", service_name, "--level", "ERROR", "--count", "1")
    quiet = envelope(service_name, "a", [f"{service_name}.a.1"], 1.0, **logs(("INFO", "hello")))
    bare = envelope(service_name, "b", [f"{service_name}.b.2"], 1.0)
    warned = envelope(service_name, "c", [f"{service_name}.c.3"], 2.0,
                      **logs(("INFO", "fine"), ("WARNING", "low\nstock\x1b[31m")))
    failed = envelope(service_name, "d", [f"{service_name}.d.4"], 3.0,
                      **logs(("ERROR", "failed")), logs_dropped=450)
    failed["data"]["logs"][0].update(error_type="KeyError", error_message="'order 7'")
    publish_amqp(quiet, bare, warned, failed)
    assert text.output() == (0, (
        f"2026-11-23T10:00:00+00:00 {service_name}.c (Rpc) entrypoint_fired 2.0 ms ok [{service_name}.c.3]\n"
        "    +0.0 ms INFO app: fine\n"
        "    +1.2 ms WARNING app: low\\nstock\\x1b[31m\n"
        f"2026-11-23T10:00:00+00:00 {service_name}.d (Rpc) entrypoint_fired 3.0 ms ok [{service_name}.d.4]\n"
        "    +0.0 ms ERROR app: failed (KeyError: 'order 7')\n"
        "    ... 450 more record(s) not kept\n"
    ))
    assert as_json.output() == (0, json.dumps(failed) + "\n")


def test_a_bad_level_is_one_line_and_exit_2():
    result = run_tool("tail", "--service", "s", "--level", "loud")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(
        "argument --level: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'")
