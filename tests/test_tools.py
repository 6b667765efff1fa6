"""The ``eventlog`` tools as subprocesses against the machine's RabbitMQ and a Tansu broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import kombu
import pytest

from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.exporters.kafka import KafkaEventExporter
from eventlog_instrument.settings import load_settings
from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.waiting import free_port, wait_until

EVENTLOG = str(Path(sys.executable).parent / "eventlog")


def tool_env(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTLOG_", "OTEL_"))}
    return {**environ, "EVENTLOG_AMQP_URI": AMQP_URI, **extra}


def run_tool(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EVENTLOG, *args], env=tool_env(**env), capture_output=True, text=True, timeout=60)


def envelope(service: str, name: str, stack: list[str], duration: float | None = None,
             event_type: str = "entrypoint_fired", second: int = 0, **data) -> dict:
    payload = {"duration_ms": duration, "outcome": "ok", **data} if duration is not None else data
    return {
        "service_name": service, "entrypoint_protocol": "Rpc", "entrypoint_name": name,
        "call_id": stack[-1], "call_stack": stack, "timestamp": f"2026-11-23T10:00:{second:02d}+00:00",
        "event_type": event_type, "data": payload,
    }


def as_event(body: dict) -> Event:
    return Event(body["service_name"], body["call_id"], tuple(body["call_stack"]), body["event_type"],
                 None, body, json.dumps(body).encode())


def publish_amqp(*bodies: dict) -> None:
    exporter = AmqpEventExporter(load_settings({}, amqp_uri=AMQP_URI))
    assert exporter.deliver([as_event(b) for b in bodies], 10) == []
    exporter.shutdown()


class Tail:
    def __init__(self, *args: str, **env: str) -> None:
        self.process = subprocess.Popen(
            [EVENTLOG, "tail", *args], env=tool_env(**env), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        assert self.process.stderr is not None
        assert self.process.stderr.readline().startswith("eventlog tail: listening")

    def output(self) -> tuple[int, str]:
        out, _ = self.process.communicate(timeout=30)
        return self.process.returncode, out


def test_tail_shows_filtered_events_as_exact_text_and_json(rabbitmq, service_name):
    other = f"{service_name}-other"
    text = Tail("--service", f"{service_name},{other}", "--entrypoint", "place_*",
                "--format", "text", "--count", "2")
    as_json = Tail("--service", service_name, "--event-type", "order_*", "--count", "1")
    placed = envelope(service_name, "place_order", ["gw.1", f"{service_name}.place_order.1"], 12.25)
    manual = envelope(service_name, "place_order", ["gw.1", f"{service_name}.place_order.1"],
                      event_type="order_placed", order_id=7)
    skipped = envelope(other, "cancel_order", [f"{other}.cancel_order.2"], 1.0)
    failed = envelope(other, "place_refund", [f"{other}.place_refund.3"], 3.0, outcome="error",
                      error_type="ValueError", error_message="no")
    publish_amqp(placed, skipped, manual, failed)
    assert text.output() == (0, (
        f"2026-11-23T10:00:00+00:00 {service_name}.place_order (Rpc) entrypoint_fired 12.2 ms ok "
        f"[{service_name}.place_order.1]\n"
        f"2026-11-23T10:00:00+00:00 {service_name}.place_order (Rpc) order_placed {{\"order_id\": 7}} "
        f"[{service_name}.place_order.1]\n"
    ))
    assert as_json.output() == (0, json.dumps(manual) + "\n")


def test_tail_stops_cleanly_on_ctrl_c(rabbitmq, service_name):
    tail = Tail("--service", service_name)
    tail.process.send_signal(signal.SIGINT)
    code, out = tail.output()
    assert (code, out) == (0, "")


def test_tail_on_kafka_from_the_beginning_with_a_service_glob(tansu, service_name):
    exporter = KafkaEventExporter(load_settings({}, kafka_bootstrap_servers=tansu))
    first = envelope(service_name, "a", [f"{service_name}.a.1"], 1.0)
    second = envelope(service_name + "x", "b", [f"{service_name}x.b.2"], 2.0)
    assert exporter.deliver([as_event(first), as_event(second)], 10) == []
    exporter.shutdown()
    result = run_tool("tail", "--broker", "kafka", "--kafka-bootstrap-servers", tansu,
                      "--service", f"{service_name}*", "--from-beginning", "--count", "2", "--timeout", "20")
    assert result.returncode == 0, result.stderr
    assert sorted(json.loads(line)["call_id"] for line in result.stdout.splitlines()) == [
        f"{service_name}.a.1", f"{service_name}x.b.2",
    ]


def chain(service: str) -> list[dict]:
    root = f"{service}-gw.checkout.1"
    orders = f"{service}-orders.place.2"
    mail = f"{service}-mail.send.3"
    return [
        envelope(f"{service}-gw", "checkout", [root], 30.0, second=0),
        envelope(f"{service}-orders", "place", [root, "standalone_rpc_proxy.call.x", orders], 20.0, second=1),
        envelope(f"{service}-mail", "send", [root, "standalone_rpc_proxy.call.x", orders, mail], 5.0, second=2),
        envelope(f"{service}-orders", "place", [root, "standalone_rpc_proxy.call.x", orders],
                 event_type="order_placed", second=1, id=7),
        envelope(f"{service}-other", "unrelated", [f"{service}-other.unrelated.9"], 1.0),
    ]


def test_tree_of_a_three_hop_chain_on_kafka(tansu, service_name):
    exporter = KafkaEventExporter(load_settings({}, kafka_bootstrap_servers=tansu))
    assert exporter.deliver([as_event(e) for e in chain(service_name)], 10) == []
    exporter.shutdown()
    result = run_tool("tree", f"{service_name}-orders.place.2", "--broker", "kafka",
                      "--kafka-bootstrap-servers", tansu, "--service", f"{service_name}-*", "--wait", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"{service_name}-gw.checkout (Rpc) 30.0 ms ok\n"
        f"`-- {service_name}-orders.place (Rpc) 20.0 ms ok\n"
        f"    |-- event order_placed {{'id': 7}}\n"
        f"    `-- {service_name}-mail.send (Rpc) 5.0 ms ok\n"
    )
    as_json = run_tool("tree", f"{service_name}-mail.send.3", "--broker", "kafka", "--json",
                       "--kafka-bootstrap-servers", tansu, "--service", f"{service_name}-*", "--wait", "3")
    [root] = json.loads(as_json.stdout)
    assert root["event"]["call_id"] == f"{service_name}-gw.checkout.1"
    assert [child["event"]["entrypoint_name"] for child in root["children"]] == ["place"]


def test_tree_on_rabbitmq_collects_what_arrives_while_it_waits(rabbitmq, service_name):
    services = f"{service_name}-gw,{service_name}-orders,{service_name}-mail"
    process = subprocess.Popen(
        [EVENTLOG, "tree", f"{service_name}-gw.checkout.1", "--service", services, "--wait", "4"],
        env=tool_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stderr is not None and process.stderr.readline().startswith("eventlog tree: collecting")
    publish_amqp(*chain(service_name)[:3])
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert out.splitlines()[0] == f"{service_name}-gw.checkout (Rpc) 30.0 ms ok"
    assert len(out.splitlines()) == 3


def test_publish_validates_then_publishes(rabbitmq, service_name, tmp_path):
    queue = BoundQueue(service_name)
    good = tmp_path / "good.json"
    body = envelope(service_name, "m", [f"{service_name}.m.1"], 1.0)
    good.write_text(json.dumps(body))
    result = run_tool("publish", str(good))
    assert (result.returncode, result.stdout) == (0, f"published entrypoint_fired of {service_name} [{service_name}.m.1]\n")
    [message] = queue.read(1)
    assert json.loads(message.body) == body
    queue.close()

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**body, "call_stack": "not-a-list"}))
    result = run_tool("publish", str(bad))
    assert (result.returncode, result.stderr) == (
        2, f"eventlog publish: error: {bad}: 'call_stack' must be a JSON array, got \"not-a-list\"\n"
    )
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({k: v for k, v in body.items() if k != "data"}))
    assert run_tool("publish", str(missing)).stderr == f"eventlog publish: error: {missing}: missing key 'data'\n"


def _declare_queue(channel, name: str, **arguments) -> kombu.Queue:
    queue = kombu.Queue(name, auto_delete=False, durable=False, queue_arguments=arguments or None)
    queue(channel).declare()
    return queue


def test_inspect_shows_messages_and_leaves_the_queue_unchanged(rabbitmq, service_name):
    with kombu.Connection(AMQP_URI) as connection:
        channel = connection.channel()
        name = f"inspect-{service_name}"
        _declare_queue(channel, name)
        producer = kombu.Producer(channel)
        bodies = [envelope(service_name, f"m{n}", [f"{service_name}.m{n}.{n}"], float(n)) for n in range(5)]
        for body in bodies:
            producer.publish(body, routing_key=name, serializer="json")
        try:
            result = run_tool("inspect", name, "--count", "3")
            assert result.returncode == 0, result.stderr
            assert result.stdout.splitlines() == [
                f"2026-11-23T10:00:00+00:00 {service_name}.m{n} (Rpc) entrypoint_fired {n:.1f} ms ok "
                f"[{service_name}.m{n}.{n}]" for n in range(3)
            ]
            assert result.stderr == "3 of 5 messages shown; the queue is unchanged\n"
            after = [json.loads(channel.basic_get(name, no_ack=True).body) for _ in range(5)]
            assert after == bodies, "same messages, same order"
        finally:
            channel.queue_delete(name)


def test_replay_interrupted_half_way_and_resumed_loses_and_doubles_nothing(rabbitmq, service_name):
    work, dead = f"work-{service_name}", f"dead-{service_name}"
    with kombu.Connection(AMQP_URI) as connection:
        channel = connection.channel()
        kombu.Exchange(f"dlx-{service_name}", type="fanout")(channel).declare()
        _declare_queue(channel, dead)
        channel.queue_bind(dead, f"dlx-{service_name}", "")
        _declare_queue(channel, work, **{"x-dead-letter-exchange": f"dlx-{service_name}"})
        exchange = kombu.Exchange(f"{service_name}.events", type="topic", durable=True)
        exchange(channel).declare()
        channel.queue_bind(work, exchange.name, "log_event")
        publish_amqp(*[envelope(service_name, "m", [f"{service_name}.m.{n}"], float(n)) for n in range(10)])
        wait_until(lambda: channel.queue_declare(work, passive=True).message_count == 10, 10, "10 in work")
        for _ in range(10):
            channel.basic_reject(channel.basic_get(work).delivery_tag, requeue=False)
        wait_until(lambda: channel.queue_declare(dead, passive=True).message_count == 10, 10, "10 dead")
        try:
            first = run_tool("replay", dead, "--count", "4")
            assert (first.returncode, first.stdout) == (0, f"replayed 4 event(s); 0 left in {dead} by --filter\n")
            filtered = run_tool("replay", dead, "--filter", "call_id=*.m.9")
            assert filtered.stdout == f"replayed 1 event(s); 5 left in {dead} by --filter\n"
            rest = run_tool("replay", dead)
            assert rest.stdout == f"replayed 5 event(s); 0 left in {dead} by --filter\n"
            replayed = [json.loads(channel.basic_get(work, no_ack=True).body)["call_id"] for _ in range(10)]
            assert sorted(replayed) == sorted(f"{service_name}.m.{n}" for n in range(10))
            assert channel.queue_declare(work, passive=True).message_count == 0
            assert channel.queue_declare(dead, passive=True).message_count == 0
        finally:
            channel.queue_delete(work)
            channel.queue_delete(dead)


def test_check_reports_each_broker_with_credentials_masked(rabbitmq, tansu):
    ok = run_tool("check", env_exporters := "--exporters", "amqp,kafka,console",
                  "--kafka-bootstrap-servers", tansu)
    del env_exporters
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines() == [
        "amqp     ok amqp://guest:***@127.0.0.1:5672//",
        f"kafka    ok {tansu}",
        "console  no broker",
    ]
    down = run_tool("check", "--exporters", "amqp", "--amqp-uri", f"amqp://admin:s3cr3t@127.0.0.1:{free_port()}//",
                    "--amqp-timeout", "1")
    assert down.returncode == 3
    assert "FAILED broker unreachable (amqp://admin:***@127.0.0.1:" in down.stdout
    assert "s3cr3t" not in down.stdout + down.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tail", "--count", "0", "--service", "s"], "argument --count: must be a positive whole number, got '0'"),
        (["tail"], "eventlog tail: error: on RabbitMQ, --service must name the services exactly"),
        (["replay", "q", "--filter", "nokey"], "eventlog replay: error: --filter takes KEY=GLOB, got 'nokey'"),
        (["inspect", "no-such-queue-here"], "eventlog inspect: error: no queue named 'no-such-queue-here'"),
    ],
)
def test_bad_arguments_are_one_line_and_non_zero(rabbitmq, args, message):
    result = run_tool(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_broker_is_one_line(service_name):
    result = run_tool("tail", "--service", service_name, "--amqp-uri", f"amqp://guest:pw@127.0.0.1:{free_port()}//",
                      "--amqp-timeout", "1")
    assert result.returncode == 3
    assert result.stderr.splitlines()[-1].startswith("eventlog tail: error: broker unreachable (amqp://guest:***@127.0.0.1:")
    assert "Traceback" not in result.stderr
