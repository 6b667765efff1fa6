"""The Nameko instrumentor: real services under ``nameko run``, real consumers, real RabbitMQ."""

from __future__ import annotations

import urllib.request
import uuid
from typing import Any

import kombu
import pytest
import wrapt

from tests.support.brokers import AMQP_URI
from tests.support.goldens import assert_golden
from tests.support.processes import rpc
from tests.support.waiting import free_port, wait_until

SERVICES = ["chain:ServiceA", "chain:ServiceB", "chain:ServiceC", "chain:Toggle"]
EXPORT_ENV = {"EVENTLOG_EXPORTERS": "amqp", "EVENTLOG_AMQP_URI": AMQP_URI, "EVENTLOG_BSP_SCHEDULE_DELAY": "20"}


def publish_job(prefix: str, payload: str) -> None:
    with kombu.Connection(AMQP_URI) as connection:
        exchange = kombu.Exchange(f"{prefix}-jobs", type="direct")
        connection.Producer().publish(payload, exchange=exchange, routing_key="job", serializer="json")


class System:
    """Services A, B, C (and Toggle) of ``tests/services/chain.py`` with a consumer of their events."""

    def __init__(self, nameko_services, nameko_consumer, config=None, event_type="log_event", **env):
        self.prefix = f"p{uuid.uuid4().hex[:8]}"
        self.a, self.b, self.c = (f"{self.prefix}_{name}" for name in "abc")
        self.consumer = nameko_consumer(self.a, self.b, self.c, event_type=event_type)
        self.http_port = free_port()
        config = {"WEB_SERVER_ADDRESS": f"127.0.0.1:{self.http_port}", **(config or {})}
        self.runner = nameko_services(SERVICES, config, SERVICE_PREFIX=self.prefix, **{**EXPORT_ENV, **env})
        self.runner.wait_for_queues(
            f"rpc-{self.a}", f"rpc-{self.b}", f"rpc-{self.prefix}_toggle",
            f"evt-{self.b}-relayed--{self.c}.on_relayed", f"{self.prefix}-jobs",
        )

    def events(self, count: int) -> list[dict[str, Any]]:
        return self.consumer.wait_for(count)

    def fired(self, entrypoint_name: str, count: int = 1) -> list[dict[str, Any]]:
        """The ``entrypoint_fired`` events of ``entrypoint_name``, waiting for ``count``."""
        def matching() -> list[dict[str, Any]]:
            return [
                event for event in self.consumer.received()
                if event["entrypoint_name"] == entrypoint_name and event["event_type"] == "entrypoint_fired"
            ]

        wait_until(lambda: len(matching()) >= count, 20, f"{count} entrypoint_fired of {entrypoint_name}")
        return matching()


@pytest.fixture
def system(nameko_services, nameko_consumer):
    return System(nameko_services, nameko_consumer, {"EVENTLOG_DISPATCHER": {"entrypoints_to_exclude": ["excluded"]}})


def test_every_entrypoint_type_gives_its_exact_envelope(system):
    assert rpc(system.a, "tagged") == "ok"
    with urllib.request.urlopen(f"http://127.0.0.1:{system.http_port}/hello/ann", timeout=10) as response:
        assert response.read() == b"hello ann"
    assert rpc(system.a, "start", 5) == 5
    publish_job(system.prefix, "j1")

    assert_golden(system.fired("tagged")[0], "nameko/rpc")
    assert_golden(system.fired("hello")[0], "nameko/http")
    assert_golden(system.fired("on_relayed")[0], "nameko/event_handler")
    assert_golden(system.fired("tick")[0], "nameko/timer")
    assert_golden(system.fired("job")[0], "nameko/consumer")


def test_chain_of_rpc_and_event_extends_one_call_stack_in_one_trace(system):
    assert rpc(system.a, "start", 7) == 7
    [start] = system.fired("start")
    [relay] = system.fired("relay")
    [handled] = system.fired("on_relayed")

    assert relay["call_stack"] == [*start["call_stack"], relay["call_id"]]
    assert handled["call_stack"] == [*relay["call_stack"], handled["call_id"]]
    assert start["call_stack"][-1] == start["call_id"]
    assert start["data"]["trace_id"] == relay["data"]["trace_id"] == handled["data"]["trace_id"]
    assert len({start["data"]["span_id"], relay["data"]["span_id"], handled["data"]["span_id"]}) == 3


def test_errors_reach_the_caller_unchanged_and_expected_ones_are_not_errors(system):
    from nameko.exceptions import RemoteError

    with pytest.raises(RemoteError) as unexpected:
        rpc(system.a, "fail")
    assert (unexpected.value.exc_type, unexpected.value.value) == ("ValueError", "boom")
    with pytest.raises(RemoteError) as expected:
        rpc(system.a, "expected")
    assert expected.value.exc_type == "KeyError"

    assert_golden(system.fired("fail")[0], "nameko/rpc_error")
    assert_golden(system.fired("expected")[0], "nameko/rpc_expected_error")


def test_manual_events_and_custom_attributes_in_a_service(system):
    rpc(system.a, "tagged")
    [fired] = system.fired("tagged")
    [custom] = [e for e in system.events(2) if e["event_type"] == "custom"]
    assert custom["call_id"] == fired["call_id"] and custom["call_stack"] == fired["call_stack"]
    assert (custom["channel"], custom["data"]) == ("web", {"x": 1})
    assert fired["tenant"] == "acme" and "channel" not in fired


def test_excluded_entrypoint_has_no_event_but_its_manual_events_keep_its_identity(system):
    assert rpc(system.a, "excluded") == "ok"
    rpc(system.a, "tagged")
    system.fired("tagged")
    excluded = [e for e in system.consumer.received() if e["entrypoint_name"] == "excluded"]
    assert [e["event_type"] for e in excluded] == ["inside_excluded"]
    assert excluded[0]["call_id"].startswith(f"{system.a}.excluded.")


def test_greenthreads_spawned_in_a_worker_keep_its_span(system):
    span_id_in_greenthread = rpc(system.a, "spawn")
    [fired] = system.fired("spawn")
    assert format(span_id_in_greenthread, "016x") == fired["data"]["span_id"]


def test_entrypoint_types_exclusions_and_custom_event_type(nameko_services, nameko_consumer):
    system = System(
        nameko_services, nameko_consumer, {"EVENTLOG_DISPATCHER": {"event_type": "audit_log"}},
        event_type="audit_log",
        EVENTLOG_NAMEKO_ENTRYPOINT_TYPES="Rpc,EventHandler",
        EVENTLOG_ENTRYPOINTS_TO_EXCLUDE="tagged",
    )
    rpc(system.a, "tagged")
    rpc(system.a, "start", 1)
    system.fired("on_relayed")
    system.fired("start")
    system.fired("relay")
    received = system.events(4)
    assert {(e["entrypoint_name"], e["event_type"]) for e in received} == {
        ("tagged", "custom"), ("start", "entrypoint_fired"),
        ("relay", "entrypoint_fired"), ("on_relayed", "entrypoint_fired"),
    }, "no Timer event, no entrypoint_fired for the excluded method"


def test_auto_capture_off_in_the_service_config_keeps_manual_events_only(nameko_services, nameko_consumer):
    system = System(nameko_services, nameko_consumer, {"EVENTLOG_DISPATCHER": {"auto_capture": False}})
    rpc(system.a, "tagged")
    rpc(system.a, "start", 1)
    events = system.events(1)
    rpc(system.a, "tagged")
    events = system.events(2)
    assert [e["event_type"] for e in events] == ["custom", "custom"]


def test_instrument_uninstrument_instrument_leaves_one_wrapper_and_one_event_per_call(system):
    toggle = f"{system.prefix}_toggle"
    rpc(system.a, "tagged")
    system.fired("tagged", 1)
    assert rpc(toggle, "set", False) == 0
    rpc(system.a, "tagged")
    assert rpc(toggle, "set", True) == 1
    rpc(system.a, "tagged")
    fired = system.fired("tagged", 2)
    rpc(system.a, "start", 1)
    system.fired("on_relayed")
    custom = [e for e in system.consumer.received() if e["event_type"] == "custom"]
    assert len(fired) == 2 and len(custom) == 2, "nothing while uninstrumented, once each after"


def test_uninstrument_restores_the_original_methods_in_process():
    from nameko.containers import ServiceContainer

    from eventlog_instrument.instrumentors.nameko import NamekoInstrumentor
    from eventlog_instrument.settings import load_settings

    original = vars(ServiceContainer)["_run_worker"]
    instrumentor = NamekoInstrumentor()
    for _ in range(2):
        instrumentor.instrument(load_settings({}))
        instrumentor.instrument(load_settings({}))
        wrapped = vars(ServiceContainer)["_run_worker"]
        assert isinstance(wrapped, wrapt.FunctionWrapper) and wrapped.__wrapped__ is original
        instrumentor.uninstrument()
        assert vars(ServiceContainer)["_run_worker"] is original


def test_importing_the_package_does_not_need_nameko():
    import subprocess
    import sys

    program = (
        "import sys\n"
        "sys.modules['nameko'] = None\n"
        "import eventlog_instrument\n"
        "from eventlog_instrument import EventLogInstrumentor, dispatch_event\n"
        "try:\n"
        "    eventlog_instrument.EventLogDispatcher\n"
        "except ImportError:\n"
        "    print('needs nameko only for the dispatcher')\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=30, check=True)
    assert result.stdout == "needs nameko only for the dispatcher\n"


