"""Leaving a process: pool workers terminated by ``with Pool(...)``, and kafka-python's own
exit hook, against the real brokers."""

from __future__ import annotations

import json
import multiprocessing

from eventlog_instrument import dispatch_event
from eventlog_instrument.exporters.amqp import AmqpEventExporter
from eventlog_instrument.settings import load_settings
from tests.support.brokers import AMQP_URI, BoundQueue


def _dispatch_number(number: int) -> int:
    dispatch_event("child", {"n": number})
    return number


def test_workers_of_a_pool_left_by_with_flush_before_terminate_kills_them(rabbitmq, service_name, pipeline):
    queue = BoundQueue(service_name)
    pipeline(
        extra_exporters=[AmqpEventExporter(load_settings({}, amqp_uri=AMQP_URI))],
        service_name=service_name, bsp_schedule_delay=60_000,  # nothing sent before the exit
    )
    with multiprocessing.get_context("fork").Pool(4) as pool:  # __exit__ is terminate()
        assert sorted(pool.map(_dispatch_number, range(40))) == list(range(40))
    messages = queue.read(40, timeout=30)
    assert sorted(json.loads(m.body)["data"]["n"] for m in messages) == list(range(40))
    assert queue.rest(0.5) == [], "nothing is published twice"
    queue.close()
