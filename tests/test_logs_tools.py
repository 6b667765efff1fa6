"""``eventlog tail --level``, and the log records in the text of ``tail`` and ``inspect``, against the real RabbitMQ."""

from __future__ import annotations

import json

import kombu

from tests.support.brokers import AMQP_URI
from tests.test_tools import Tail, _declare_queue, envelope, publish_amqp, run_tool


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


def test_inspect_prints_a_calls_records_under_it_as_tail_does(rabbitmq, service_name):
    name = f"inspect-{service_name}"
    failed = envelope(service_name, "d", [f"{service_name}.d.4"], 3.0,
                      **logs(("WARNING", "low\rstock"), ("ERROR", "failed")), logs_dropped=2)
    with kombu.Connection(AMQP_URI) as connection:
        channel = connection.channel()
        _declare_queue(channel, name)
        kombu.Producer(channel).publish(failed, routing_key=name, serializer="json")
        try:
            result = run_tool("inspect", name)
            assert (result.returncode, result.stdout) == (0, (
                f"2026-11-23T10:00:00+00:00 {service_name}.d (Rpc) entrypoint_fired 3.0 ms ok "
                f"[{service_name}.d.4]\n"
                "    +0.0 ms WARNING app: low\\rstock\n"
                "    +1.2 ms ERROR app: failed\n"
                "    ... 2 more record(s) not kept\n"
            )), result.stderr
            assert json.loads(channel.basic_get(name, no_ack=True).body) == failed, "left in place"
        finally:
            channel.queue_delete(name)
