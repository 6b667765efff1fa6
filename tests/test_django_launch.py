"""How Django is run: ``gunicorn`` with and without ``--preload`` under
``eventlog-instrument``, gunicorn with ``instrument()`` in ``wsgi.py`` alone, and
``manage.py runserver`` with its autoreloader under the launcher. Each serves a few
requests: exactly one event each, none from anywhere else. Management commands and
migrations make no events."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid

import pytest
import requests

from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.paths import TESTS
from tests.support.processes import ServerProcess
from tests.support.waiting import free_port, port_open, wait_until
from tests.test_launcher import LAUNCHER, launcher_env

REQUESTS = 3


def export(service: str) -> dict[str, str]:
    return {"EVENTLOG_EXPORTERS": "amqp", "EVENTLOG_AMQP_URI": AMQP_URI, "EVENTLOG_SERVICE_NAME": service,
            "EVENTLOG_BSP_SCHEDULE_DELAY": "20"}


def one_event_per_request(url: str, queue: BoundQueue) -> list[dict]:
    for number in range(REQUESTS):
        response = requests.get(f"{url}/orders/{number}/", timeout=10)
        assert response.json() == {"id": number}
    events = [json.loads(message.body) for message in queue.read(2 * REQUESTS)]  # with each view's own
    assert queue.rest(0.5) == []
    fired = [e for e in events if e["event_type"] == "entrypoint_fired"]
    assert sorted(e["data"]["route"] for e in fired) == ["orders/<int:pk>/"] * REQUESTS
    return fired


@pytest.mark.parametrize(
    "command",
    [
        [LAUNCHER, "gunicorn", "-w", "2", "--preload"],
        [sys.executable, "-m", "gunicorn", "-w", "2"],
    ],
    ids=["launcher-gunicorn-preload", "wsgi-py-instrument-only"],
)
def test_gunicorn_serves_one_event_per_request(tmp_path, rabbitmq, command):
    service = f"djgun{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    port = free_port()
    server = ServerProcess([*command, "-b", f"127.0.0.1:{port}", "djshop.wsgi:application"], port, tmp_path,
                           export(service), base_env=launcher_env(), ready_within=60)
    try:
        fired = one_event_per_request(server.url, queue)
        assert {e["service_name"] for e in fired} == {service}
    finally:
        server.stop()
        queue.close()


def test_runserver_with_its_autoreloader_instruments_the_child_once(tmp_path, rabbitmq):
    service = f"djrun{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    port = free_port()
    log = tmp_path / "runserver.log"
    with log.open("wb") as output:
        # a session of its own: the reloader's child is stopped with its parent
        process = subprocess.Popen(
            [LAUNCHER, "python", "django_manage.py", "runserver", f"127.0.0.1:{port}"],
            env=launcher_env(**export(service)), cwd=TESTS / "apps", stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        def listening() -> bool:
            if process.poll() is not None:
                pytest.fail(f"runserver exited: {log.read_text()[-3000:]}")
            return port_open("127.0.0.1", port)

        wait_until(listening, 60, "runserver to listen")
        one_event_per_request(f"http://127.0.0.1:{port}", queue)
        assert [reloaded for reloaded in session_members(process.pid) if reloaded != process.pid], (
            "the autoreloader ran its child"
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        queue.close()


def session_members(session: int) -> list[int]:
    """The processes of a session, by their ids, from ``/proc``."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as status:
                    stat = status.read()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) == session:  # the session id, after state, ppid and pgrp
                members.append(int(entry))
    return members


def test_management_commands_and_migrations_make_no_events(tmp_path, rabbitmq):
    service = f"djcmd{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    try:
        for command in (["check"], ["migrate", "--noinput"], ["showmigrations"]):
            result = subprocess.run(
                [LAUNCHER, "python", "django_manage.py", *command],
                env=launcher_env(DJSHOP_DB=str(tmp_path / "db.sqlite3"), **export(service)),
                cwd=TESTS / "apps", capture_output=True, text=True, timeout=60,
            )
            assert result.returncode == 0, result.stderr
        assert "[X] 0001_initial" in result.stdout, "the migrations ran"
        assert queue.rest(0.5) == []
    finally:
        queue.close()
