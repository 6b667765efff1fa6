"""The Django instrumentor on the edges the review found (issue 16), in process on
Django's own WSGI handler: async-only middleware, a server's file wrapper, DRF's HEAD and
exception handler, i18n routes, runserver's static files, non-ASCII excluded paths."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from gunicorn.http.wsgi import FileWrapper
from opentelemetry import trace

from eventlog_instrument import dispatch_event
from tests.support.django_project import djshop_handler_class
from tests.support.waiting import wait_until
from tests.support.wsgi_calls import serve, serve_returning, serve_uninstrumented


@pytest.fixture(scope="module")
def django_project() -> Any:
    with djshop_handler_class() as handler_class:
        yield handler_class


def fired(memory: Any, count: int) -> list[dict]:
    return wait_until(
        lambda: (lambda found: found if len(found) >= count else None)(
            [e for e in memory.events if e["event_type"] == "entrypoint_fired"]
        ),
        5, f"{count} request events",
    )


def test_an_async_only_middleware_leaves_no_span_current_and_logs_nothing(django_project, pipeline, caplog):
    from django.test import override_settings

    memory = pipeline(service_name="asyncmw")
    with override_settings(MIDDLEWARE=["djshop.middleware.AsyncOnly"]), caplog.at_level(logging.WARNING):
        handler = django_project()
        answers = [serve(handler, "GET", f"/orders/{number}/") for number in (1, 2)]
        after_requests = trace.get_current_span().get_span_context().is_valid
        dispatch_event("after_the_requests", {})
    assert [(status, body) for status, _, body in answers] == [("200 OK", b'{"id": 1}'), ("200 OK", b'{"id": 2}')]
    assert not after_requests, "the ended request span stayed current"
    assert [r.getMessage() for r in caplog.records] == []
    events = memory.wait_for(5)
    requests_ = [e for e in events if e["event_type"] == "entrypoint_fired"]
    viewed = [e for e in events if e["event_type"] == "order_viewed"]
    [outside] = [e for e in events if e["event_type"] == "after_the_requests"]
    call_ids = [dict(headers)["X-Call-Id"] for _, headers, _ in answers]
    assert sorted(e["call_id"] for e in requests_) == sorted(call_ids)
    # the view ran inside its request's call though asgiref ran it in a copied context
    assert sorted(e["call_id"] for e in viewed) == sorted(call_ids)
    assert outside["call_stack"] == [outside["call_id"]] and outside["call_id"] not in call_ids


def test_a_file_response_is_the_servers_own_file_wrapper_and_ends_the_call_when_closed(django_project, pipeline):
    handler = django_project()
    bare = serve_uninstrumented(handler, "GET", "/download/", **{"wsgi.file_wrapper": FileWrapper})
    memory = pipeline(service_name="files")
    status, headers, body, returned = serve_returning(
        handler, "GET", "/download/", **{"wsgi.file_wrapper": FileWrapper}
    )
    # gunicorn sends the file with sendfile() only when it gets its own FileWrapper back
    assert type(bare[3]) is FileWrapper and type(returned) is FileWrapper
    assert (status, body) == (bare[0], bare[2]) == ("200 OK", b"line one\nline two\n")
    returned.close()  # a second close, as some servers do: still one call
    [event] = fired(memory, 1)
    assert (event["entrypoint_name"], event["data"]["status_code"]) == ("download", 200)
    assert ("X-Call-Id", event["call_id"]) in headers
    assert memory.wait_for(1) == [event]


def test_a_drf_head_is_named_as_its_get_action_before_and_after_a_get(django_project, pipeline):
    memory = pipeline(service_name="heads")
    handler = django_project()
    for method in ("HEAD", "GET", "HEAD"):
        serve(handler, method, "/api/items/")
    assert [(e["entrypoint_name"], e["data"]["method"]) for e in fired(memory, 3)] == [
        ("ItemViewSet.list", "HEAD"), ("ItemViewSet.list", "GET"), ("ItemViewSet.list", "HEAD"),
    ]


def test_a_500_a_drf_exception_handler_answers_keeps_its_exception(django_project, pipeline):
    from django.test import override_settings

    memory = pipeline(service_name="drf500")
    drf = {"DEFAULT_AUTHENTICATION_CLASSES": [], "DEFAULT_PERMISSION_CLASSES": [], "UNAUTHENTICATED_USER": None,
           "EXCEPTION_HANDLER": "djshop.views.json_500_handler"}
    with override_settings(REST_FRAMEWORK=drf):
        status, _, body = serve(django_project(), "GET", "/api/items/0/")
    assert (status, body) == ("500 Internal Server Error", b'{"detail":"internal"}')
    [event] = fired(memory, 1)
    data = event["data"]
    assert (data["outcome"], data["error_type"], data["status_code"]) == ("error", "KeyError", 500)


def test_an_i18n_route_is_the_pattern_without_the_language(django_project, pipeline):
    from django.test import override_settings

    memory = pipeline(service_name="i18n")
    with override_settings(ROOT_URLCONF="djshop.i18n_urls", MIDDLEWARE=["django.middleware.locale.LocaleMiddleware"]):
        handler = django_project()
        assert [serve(handler, "GET", f"/{language}/hello/")[2] for language in ("en", "de")] == [b"ok", b"ok"]
    assert [(e["entrypoint_name"], e["data"]["route"]) for e in fired(memory, 2)] == [("hello", "hello/")] * 2


def test_static_files_runserver_serves_make_no_event(django_project, pipeline):
    from django.contrib.staticfiles.handlers import StaticFilesHandler

    memory = pipeline(service_name="static")
    handler = StaticFilesHandler(django_project())  # what runserver serves with
    assert serve(handler, "GET", "/static/shop.css")[::2] == ("200 OK", b"body{}\n")
    assert serve(handler, "GET", "/reports/")[0] == "200 OK"  # handed to the project: a call
    # the events come in order: once the second request's has, the first made none
    [event] = fired(memory, 1)
    assert event["entrypoint_name"] == "djshop.views.ReportView"
    assert memory.wait_for(1) == [event]


def test_an_excluded_url_written_with_its_non_ascii_path_is_excluded(django_project, pipeline):
    memory = pipeline(service_name="excluded", django_excluded_urls="^/caf\u00e9/$")
    handler = django_project()
    assert serve(handler, "GET", "/caf\u00e9/")[0] == "404 Not Found"
    assert serve(handler, "GET", "/reports/")[0] == "200 OK"
    [event] = fired(memory, 1)
    assert event["entrypoint_name"] == "djshop.views.ReportView"
    assert memory.wait_for(1) == [event]


@pytest.mark.parametrize("capture_log_level", ["WARNING", "off"])
def test_what_a_streamed_body_does_while_it_is_sent_belongs_to_the_request(
    django_project, pipeline, capture_log_level
):
    memory = pipeline(service_name="streamer", capture_log_level=capture_log_level)
    status, headers, body = serve(django_project(), "GET", "/stream-events/")
    assert (status, body) == ("200 OK", b"0\n1\n")
    events = memory.wait_for(3)
    [request] = [e for e in events if e["event_type"] == "entrypoint_fired"]
    chunks = [e for e in events if e["event_type"] == "chunk_sent"]
    assert [(e["call_id"], e["data"]["number"]) for e in chunks] == [(request["call_id"], 0), (request["call_id"], 1)]
    assert request["call_id"] == dict(headers)["X-Call-Id"]
