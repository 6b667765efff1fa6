"""The Django instrumentor in process: Django's own WSGI handler called with hand-built
environs (no server), events in the memory exporter. The served project is
``tests/apps/djshop``; real servers are in ``test_django.py``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.django_project import djshop_handler_class
from tests.support.hostile import HEADER_TEXT, HEADERS, SAFE_CALL_ID, settled_count
from tests.support.waiting import wait_until
from tests.support.wsgi_calls import serve, serve_uninstrumented

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def django_project() -> Any:
    with djshop_handler_class() as handler_class:
        yield handler_class


def test_a_handler_built_before_instrument_is_covered_and_the_settings_package_names_the_service(
    django_project, pipeline, monkeypatch
):
    monkeypatch.delenv("EVENTLOG_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    handler = django_project()
    memory = pipeline()
    status, headers, body = serve(handler, "GET", "/orders/5/")
    assert (status, body) == ("200 OK", b'{"id": 5}')
    [event] = [e for e in memory.wait_for(2) if e["event_type"] == "entrypoint_fired"]
    assert (event["service_name"], event["entrypoint_name"]) == ("djshop", "order-detail")
    assert ("X-Call-Id", event["call_id"]) in headers


def test_the_call_id_header_can_be_turned_off(django_project, pipeline):
    memory = pipeline(service_name="quiet", call_id_response_header=False)
    status, headers, _ = serve(django_project(), "GET", "/reports/")
    assert status == "200 OK" and all(name != "X-Call-Id" for name, _ in headers)
    [event] = memory.wait_for(1)
    assert event["entrypoint_name"] == "djshop.views.ReportView"


def test_drf_answers_in_4xx_are_not_errors_and_a_method_without_an_action_keeps_the_url_name(
    django_project, pipeline
):
    memory = pipeline(service_name="drf")
    handler = django_project()
    assert serve(handler, "GET", "/api/items/nine/")[0] == "404 Not Found"
    assert serve(handler, "POST", "/api/items/")[0] == "405 Method Not Allowed"
    missing, refused = memory.wait_for(2)
    assert (missing["entrypoint_name"], missing["data"]["outcome"]) == ("ItemViewSet.retrieve", "ok")
    assert "error_type" not in missing["data"]
    assert (refused["entrypoint_name"], refused["data"]["status_code"]) == ("item-list", 405)
    assert refused["data"]["outcome"] == "ok"


def test_an_exception_django_propagates_ends_the_span_with_it(django_project, pipeline):
    from django.test import override_settings

    memory = pipeline(service_name="propagating")
    with override_settings(DEBUG_PROPAGATE_EXCEPTIONS=True), pytest.raises(RuntimeError, match="kaput"):
        serve(django_project(), "GET", "/boom/")
    [event] = memory.wait_for(1)
    data = event["data"]
    assert (event["entrypoint_name"], data["outcome"], data["error_type"]) == ("boom", "error", "RuntimeError")
    assert "status_code" not in data


def test_uninstrument_puts_djangos_own_methods_back(django_project, pipeline):
    from django.core.handlers import base, exception

    originals = (django_project.__call__, base.BaseHandler.resolve_request, exception.response_for_exception)
    from eventlog_instrument import EventLogInstrumentor

    pipeline(service_name="undone")
    assert django_project.__call__ is not originals[0]
    EventLogInstrumentor().uninstrument()
    assert (django_project.__call__, base.BaseHandler.resolve_request, exception.response_for_exception) == originals


@pytest.fixture(scope="module")
def fuzzed(django_project):
    """One instrumentation and one handler for every example of the fuzz test."""
    from eventlog_instrument import EventLogInstrumentor
    from eventlog_instrument.exporters.memory import InMemoryEventExporter

    memory = InMemoryEventExporter()
    EventLogInstrumentor().instrument(exporters=[memory], service_name="fuzzed", bsp_schedule_delay=20)
    yield memory, django_project()
    EventLogInstrumentor().uninstrument()


@FUZZ
@given(path=st.sampled_from(["/orders/1/", "/orders/x/", "/", "/%0d%0a", "/\u65e5", "/api/items/1/"])
       | HEADER_TEXT.map("/".__add__), headers=HEADERS)
def test_django_answers_as_uninstrumented_with_exactly_one_safe_event(fuzzed, path, headers):
    memory, handler = fuzzed
    before = settled_count(memory)
    plain = serve_uninstrumented(handler, "GET", path, headers)[:3]
    status, response_headers, body = serve(handler, "GET", path, headers)
    [call_id] = [value for name, value in response_headers if name == "X-Call-Id"]
    assert (status, [h for h in response_headers if h[0] != "X-Call-Id"], body) == plain
    # the order view dispatches an event of its own too: wait for the request's
    [event] = wait_until(
        lambda: [e for e in memory.events[before:] if e["event_type"] == "entrypoint_fired"], 5,
        "the request's event",
    )
    assert event["call_id"] == call_id and SAFE_CALL_ID.fullmatch(call_id)
    assert len(event["call_stack"]) <= 11 and len(",".join(event["call_stack"])) <= 2048 + len(call_id)
    assert event["entrypoint_name"] in {"order-detail", "unmatched", "ItemViewSet.retrieve"}
