"""Shutdown giving up while the worker builds a batch: those events are counted once."""

from __future__ import annotations

import threading

from eventlog_instrument.exporters import base
from tests.support.waiting import wait_until
from tests.test_processor import ScriptedExporter, end_calls, processor_for


def test_a_batch_being_built_when_shutdown_gives_up_is_counted_once(monkeypatch):
    building, release = threading.Event(), threading.Event()
    build = base.build_event_for
    built = []

    def slow_build(span, settings):
        building.set()
        release.wait(10)
        built.append(span)
        if len(built) == 3:  # would be dropped as invalid, had shutdown not counted it
            raise ValueError("cannot be built")
        return build(span, settings)

    monkeypatch.setattr(base, "build_event_for", slow_build)
    exporter = ScriptedExporter()
    processor, tracer = processor_for(exporter, shutdown_timeout=100, bsp_schedule_delay=10)
    end_calls(tracer, 5)
    assert building.wait(10), "the worker started building the batch"
    processor.shutdown()  # gives up: the worker is still building
    release.set()
    wait_until(lambda: processor._worker.is_set(), 10, "the worker to finish")
    dropped = {reason: count for reason, count in processor.dropped_by_reason.items() if count}
    assert (processor.accepted, processor.exported, dropped) == (5, 0, {"shutdown": 5})
    assert exporter.delivered == []
