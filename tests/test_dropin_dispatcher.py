"""The drop-in EventLogDispatcher against nameko-eventlog-dispatcher 0.4.2, side by side.

The same service runs twice, in two ``nameko run`` processes: once with the old
library, once with the drop-in. The same calls must give the same envelopes: same keys in the same
order, same values, once the parts that are random by nature (uuids, the service
name's suffix, the second the event was dispatched) are normalised.
"""

from __future__ import annotations

import re
import urllib.request
import uuid
from typing import Any

import kombu
import pytest

from tests.support.brokers import AMQP_URI
from tests.support.processes import rpc
from tests.support.waiting import free_port, wait_until

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
RPC_METHODS = ["only_type", "with_data", "with_metadata", "keywords", "excluded_method"]


def normalised(envelope: dict[str, Any], prefix: str, label: str) -> tuple[list[str], str]:
    assert TIMESTAMP.fullmatch(envelope["timestamp"]), envelope["timestamp"]
    text = repr(list(envelope.items())).replace(f"{prefix}_{label}", "SERVICE")
    return list(envelope), UUID.sub("UUID", TIMESTAMP.sub("TIMESTAMP", text))


class SideBySide:
    def __init__(self, nameko_services, nameko_consumer, config, event_type="log_event"):
        self.prefix = f"d{uuid.uuid4().hex[:8]}"
        self.old, self.new = f"{self.prefix}_old", f"{self.prefix}_new"
        self.consumer = nameko_consumer(self.old, self.new, event_type=event_type)
        self.http_ports = {}
        for label in ("old", "new"):
            self.http_ports[label] = free_port()
            runner = nameko_services(
                [f"dropin:{label.title()}Service"],
                {"WEB_SERVER_ADDRESS": f"127.0.0.1:{self.http_ports[label]}", "EVENTLOG_DISPATCHER": config},
                SERVICE_PREFIX=self.prefix,
            )
            runner.wait_for_queues(f"rpc-{self.prefix}_{label}")

    def drive(self) -> None:
        for method in RPC_METHODS:
            for service in (self.old, self.new):
                rpc(service, method)
        for label in ("old", "new"):
            url = f"http://127.0.0.1:{self.http_ports[label]}/{label}/hello"
            with urllib.request.urlopen(url, timeout=10) as response:
                assert response.read() == b"hi"
        with kombu.Connection(AMQP_URI) as connection:
            for label in ("old", "new"):
                exchange = kombu.Exchange(f"{self.prefix}_{label}_source.events", type="topic", durable=True)
                connection.Producer().publish({}, exchange=exchange, routing_key="ping", declare=[exchange])

    def envelopes(self, count_each: int) -> dict[str, list]:
        def both_arrived() -> bool:
            received = self.consumer.received()
            return all(
                sum(e["service_name"].startswith(s) or e["call_id"].startswith(s) for e in received) >= count_each
                for s in (self.old, self.new)
            )

        wait_until(both_arrived, 20, f"{count_each} events from each service")
        by_service: dict[str, list] = {"old": [], "new": []}
        for envelope in self.consumer.received():
            label = "old" if envelope["call_id"].startswith(self.old) else "new"
            by_service[label].append(normalised(envelope, self.prefix, label))
        return by_service


def test_same_envelopes_as_the_old_library_with_auto_capture(nameko_services, nameko_consumer):
    system = SideBySide(
        nameko_services, nameko_consumer,
        {"auto_capture": True, "entrypoints_to_exclude": ["excluded_method"]},
    )
    system.drive()
    # 4 manual events, entrypoint_fired for the 4 captured RPCs and the HTTP call;
    # none for the excluded method, the timer or the event handler.
    by_service = system.envelopes(9)
    assert sorted(by_service["new"]) == sorted(by_service["old"])
    assert len(by_service["new"]) == 9
    fired = [text for _keys, text in by_service["new"] if "entrypoint_fired" in text]
    assert len(fired) == 5 and not any("excluded_method" in text for text in fired)
    assert not any("'tick'" in text or "'on_ping'" in text for _keys, text in by_service["new"])


def test_same_envelopes_as_the_old_library_without_auto_capture_and_custom_event_type(
    nameko_services, nameko_consumer
):
    system = SideBySide(nameko_services, nameko_consumer, {"event_type": "audit_log"}, event_type="audit_log")
    system.drive()
    by_service = system.envelopes(4)
    assert sorted(by_service["new"]) == sorted(by_service["old"])
    assert len(by_service["new"]) == 4
    assert not any("entrypoint_fired" in text for _keys, text in by_service["new"])


def test_the_exact_envelope_of_a_manual_dispatch(nameko_services, nameko_consumer):
    system = SideBySide(nameko_services, nameko_consumer, {})
    rpc(system.new, "with_metadata")
    [envelope] = system.consumer.wait_for(1)
    assert list(envelope) == [
        "service_name", "entrypoint_protocol", "entrypoint_name", "call_id", "call_stack",
        "meta", "timestamp", "event_type", "data",
    ]
    assert envelope["service_name"] == "overridden"
    assert (envelope["entrypoint_protocol"], envelope["entrypoint_name"]) == ("Rpc", "with_metadata")
    assert re.fullmatch(rf"{system.new}\.with_metadata\.{UUID.pattern}", envelope["call_id"])
    assert envelope["call_stack"][-1] == envelope["call_id"] and len(envelope["call_stack"]) == 2
    assert (envelope["meta"], envelope["event_type"], envelope["data"]) == ("x", "my_event", {"value": 1})


def test_a_broken_publisher_never_breaks_the_rpc_call(nameko_services, rabbitmq):
    prefix = f"b{uuid.uuid4().hex[:8]}"
    with kombu.Connection(AMQP_URI) as connection:
        # An exchange of the wrong type and durability: every publish of the drop-in fails.
        kombu.Exchange(f"{prefix}_new.events", type="fanout", durable=False, auto_delete=True)(
            connection.default_channel
        ).declare()
        runner = nameko_services(
            ["dropin:NewService"], {"EVENTLOG_DISPATCHER": {"auto_capture": True}},
            SERVICE_PREFIX=prefix,
        )
        runner.wait_for_queues(f"rpc-{prefix}_new")
        for method in ("only_type", "with_data"):
            assert rpc(f"{prefix}_new", method) is None
        wait_until(lambda: "amqp exporter cannot publish" in runner.log.read_text(), 20, "the failure log")
    log = runner.log.read_text()
    # One masked line names the broker's reason; a traceback would end in the unmasked error.
    assert "PRECONDITION_FAILED" in log and "Traceback (most recent call last)" not in log


@pytest.mark.parametrize("bad", [["not", "a", "dict"], {"when": object()}])
def test_bad_event_data_is_a_clear_error_at_the_call(bad):
    from unittest import mock

    from eventlog_instrument import EventLogDispatcher

    dispatcher = EventLogDispatcher()
    worker_ctx = mock.Mock(service_name="s", call_id="s.m.1", call_id_stack=["s.m.1"])
    with pytest.raises(TypeError, match="event_data"):
        dispatcher.get_dependency(worker_ctx)("my_event", bad)
