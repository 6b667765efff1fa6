"""The amqp exporter against the real RabbitMQ when a broker hangs mid-write, and when
one service's exchange cannot be declared: every event handed back once, counted once,
and one bad exchange holds back no other service's events."""

from __future__ import annotations

import json

import kombu

from eventlog_instrument import EventLogInstrumentor, dispatch_event
from eventlog_instrument.envelope import Event
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.settings import load_settings
from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.tcpproxy import TcpProxy


def event(service_name: str, number: int, pad: int = 0) -> Event:
    envelope = {"n": number, "pad": "x" * pad}
    call_id = f"{service_name}.call.{number}"
    return Event(
        service_name, call_id, (call_id,), "tick", None, envelope, json.dumps(envelope).encode()
    )


def test_a_write_timeout_hands_each_event_back_once(rabbitmq, service_name):
    proxy = TcpProxy("127.0.0.1", 5672)
    exporter = AmqpEventExporter(
        load_settings({}, amqp_uri=f"amqp://guest:guest@127.0.0.1:{proxy.port}//", amqp_timeout=1)
    )
    assert exporter.deliver([event(service_name, -1)], 10) == []
    proxy.hang()
    events = [event(service_name, number, pad=30_000) for number in range(200)]
    handed_back = exporter.deliver(events, 3)
    assert sorted(e.envelope["n"] for e in handed_back) == list(range(200))
    assert exporter.take_refusals() == []
    proxy.close()


def test_a_hung_broker_at_shutdown_counts_each_queued_event_once(rabbitmq, service_name, pipeline):
    proxy = TcpProxy("127.0.0.1", 5672)
    exporter = AmqpEventExporter(
        load_settings({}, amqp_uri=f"amqp://guest:guest@127.0.0.1:{proxy.port}//", amqp_timeout=1)
    )
    # One batch of 12 MB at shutdown (no timer before): a write times out inside it.
    pipeline(
        extra_exporters=[exporter], service_name=service_name, shutdown_timeout=2000,
        bsp_schedule_delay=600_000,
    )
    [processor] = [p for p in EventLogInstrumentor().processors if p.exporter is exporter]
    for number in range(20):
        dispatch_event("warm", {"n": number})
    assert EventLogInstrumentor().force_flush(20_000)
    proxy.hang()
    for number in range(400):
        dispatch_event("hung", {"n": number, "pad": "x" * 30_000})
    EventLogInstrumentor().uninstrument()
    dropped = {reason: count for reason, count in processor.dropped_by_reason.items() if count}
    assert (processor.accepted, processor.exported, dropped) == (420, 20, {"shutdown": 400})
    proxy.close()


def test_an_exchange_declared_otherwise_refuses_only_its_own_events(rabbitmq, service_name, caplog):
    bad, good = f"{service_name}bad", f"{service_name}good"
    with kombu.Connection(AMQP_URI) as connection:
        channel = connection.channel()
        # As Nameko declares it with AUTO_DELETE_EVENT_EXCHANGES: our declare gets a 406.
        channel.exchange_declare(f"{bad}.events", "topic", durable=True, auto_delete=True)
        channel.queue_declare(f"{bad}-q", auto_delete=True)
        channel.queue_bind(f"{bad}-q", f"{bad}.events", "#")  # keeps the exchange alive
        queue = BoundQueue(good)
        exporter = AmqpEventExporter(load_settings({}, amqp_uri=AMQP_URI))
        batch = [event(good, 0), event(bad, 1), event(good, 2), event(bad, 3), event(good, 4)]
        assert exporter.deliver(batch, 10) == []
        refusals = exporter.take_refusals()
        assert [(r.event.envelope["n"], r.reason) for r in refusals] == [(1, "invalid"), (3, "invalid")]
        assert "PRECONDITION_FAILED" in refusals[0].detail
        assert exporter.deliver([event(bad, 5), event(good, 6)], 10) == []
        assert [r.event.envelope["n"] for r in exporter.take_refusals()] == [5]
        assert sorted(json.loads(m.body)["n"] for m in queue.read(4, timeout=10)) == [0, 2, 4, 6]
        assert queue.rest(0.3) == []
        warnings = [r for r in caplog.records if "amqp exporter cannot publish" in r.getMessage()]
        assert len(warnings) == 1, "the broker is asked once per exchange every 10 s"
        assert "PRECONDITION_FAILED" in warnings[0].getMessage()
        exporter.shutdown()
        queue.close()
        channel.queue_delete(f"{bad}-q")
        channel.exchange_delete(f"{bad}.events")
        channel.exchange_delete(f"{good}.events")


def test_a_fixed_exchange_is_declared_again_after_the_retry_period(rabbitmq, service_name, monkeypatch):
    from eventlog_instrument.exporters import amqp_exchanges

    with kombu.Connection(AMQP_URI) as connection:
        channel = connection.channel()
        channel.exchange_declare(f"{service_name}.events", "fanout", durable=False)
        exporter = AmqpEventExporter(load_settings({}, amqp_uri=AMQP_URI))
        assert exporter.deliver([event(service_name, 0)], 10) == []
        assert len(exporter.take_refusals()) == 1
        channel.exchange_delete(f"{service_name}.events")  # the operator fixes it
        queue = BoundQueue(service_name)
        monkeypatch.setattr(amqp_exchanges, "RETRY_DECLARE_AFTER", 0.0)
        assert exporter.deliver([event(service_name, 1)], 10) == []
        assert exporter.take_refusals() == []
        assert [json.loads(m.body)["n"] for m in queue.read(1, timeout=10)] == [1]
        exporter.shutdown()
        queue.close()
