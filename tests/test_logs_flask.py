"""Log capture in a Flask app served by gunicorn under ``eventlog-instrument``: exact
``data.logs``, the record cap, the call id in the app's own log lines, and ``off``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import requests

from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.goldens import assert_golden
from tests.support.processes import ServerProcess
from tests.support.waiting import free_port, port_open
from tests.test_hostile_servers import launched_server
from tests.test_launcher import LAUNCHER


class LoggingShop(NamedTuple):
    server: ServerProcess
    queue: BoundQueue
    app_log: Path


def serve(tmp_path_factory: pytest.TempPathFactory, **env: str) -> Iterator[LoggingShop]:
    if not port_open("127.0.0.1", 5672):
        pytest.fail("RabbitMQ is not reachable on 127.0.0.1:5672")
    workdir = tmp_path_factory.mktemp("logs")
    service = f"logs{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    port = free_port()
    app_log = workdir / "app.log"
    server = launched_server(
        [LAUNCHER, "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "logs_flask:app"],
        port, workdir, EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=AMQP_URI,
        EVENTLOG_SERVICE_NAME=service, EVENTLOG_BSP_SCHEDULE_DELAY="20",
        LOGS_APP_FILE=str(app_log), **env,
    )
    yield LoggingShop(server, queue, app_log)
    server.stop()
    queue.close()


@pytest.fixture(scope="module")
def default_level(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggingShop]:
    yield from serve(tmp_path_factory)


@pytest.fixture(scope="module")
def info_level(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggingShop]:
    yield from serve(tmp_path_factory, EVENTLOG_CAPTURE_LOG_LEVEL="INFO")


@pytest.fixture(scope="module")
def off(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggingShop]:
    yield from serve(tmp_path_factory, EVENTLOG_CAPTURE_LOG_LEVEL="off")


def get(shop: LoggingShop, path: str) -> requests.Response:
    response = requests.get(shop.server.url + path, timeout=10)
    assert response.status_code == 200
    return response


def event_of(shop: LoggingShop) -> dict:
    [message] = shop.queue.read(1)
    return json.loads(message.body)


def test_default_level_keeps_warning_and_error_with_its_exception(default_level):
    get(default_level, "/mixed")
    assert_golden(event_of(default_level), "logs/flask_default")


def test_info_level_keeps_info_too(info_level):
    get(info_level, "/mixed")
    assert_golden(event_of(info_level), "logs/flask_info")


def test_500_warnings_give_50_records_and_450_dropped(default_level):
    get(default_level, "/flood")
    data = event_of(default_level)["data"]
    assert [record["message"] for record in data["logs"]] == [f"warning {n}" for n in range(50)]
    assert data["logs_dropped"] == 450


def test_a_streamed_body_logs_into_its_request(default_level):
    response = get(default_level, "/stream")
    assert response.text == "0\n1\n2\n"
    event = event_of(default_level)
    assert [record["message"] for record in event["data"]["logs"]] == [
        "stream opened", "chunk 0 sent", "chunk 1 sent", "chunk 2 sent"]
    lines = default_level.app_log.read_text().splitlines()
    assert f"{event['call_id']} chunk 2 sent" in lines


def test_the_apps_own_lines_carry_the_call_id_of_their_event(info_level):
    call_ids = [get(info_level, "/mixed").headers["X-Call-Id"] for _ in range(2)]
    events = [json.loads(m.body) for m in info_level.queue.read(2)]
    assert [event["call_id"] for event in events] == call_ids
    lines = info_level.app_log.read_text().splitlines()
    assert lines[0] == " logshop starting", "a start-up line, outside any call, prints fine"
    for call_id in call_ids:
        own = [line.split(" ", 1)[1] for line in lines if line.startswith(call_id + " ")]
        assert own == ["never kept: below INFO", "looking up order 7", "stock low: 2 left",
                       "lookup failed"], "the handler gets every record, capture or not"


def test_off_captures_nothing_and_the_apps_lines_still_carry_the_call_id(off):
    call_id = get(off, "/mixed").headers["X-Call-Id"]
    event = event_of(off)
    assert event["call_id"] == call_id
    assert "logs" not in event["data"] and "logs_dropped" not in event["data"]
    lines = off.app_log.read_text().splitlines()
    assert lines == [" logshop starting", f"{call_id} never kept: below INFO",
                     f"{call_id} looking up order 7", f"{call_id} stock low: 2 left",
                     f"{call_id} lookup failed", *lines[5:]]
    assert lines[5] == "Traceback (most recent call last):", "logging printed no error"
