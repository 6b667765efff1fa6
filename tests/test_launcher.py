"""``eventlog-instrument``: real programs, unchanged, instrumented from the command line.

Each process model runs under the launcher with the ``amqp`` exporter and a long batch
delay, so events are still queued when SIGTERM arrives: every one must still reach
RabbitMQ.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from eventlog_instrument import __version__
from eventlog_instrument.settings import SETTINGS
from tests.support.brokers import AMQP_URI, BoundQueue, queue_consumed
from tests.support.paths import TESTS
from tests.support.processes import rpc
from tests.support.waiting import free_port, port_open, wait_until

BIN = Path(sys.executable).parent
LAUNCHER = str(BIN / "eventlog-instrument")
REQUESTS = 10


def launcher_env(**extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTLOG_", "OTEL_"))}
    environ["PATH"] = f"{BIN}{os.pathsep}{environ.get('PATH', '')}"
    environ["PYTHONPATH"] = f"{TESTS / 'apps'}{os.pathsep}{TESTS / 'services'}"
    return {**environ, **extra}


class Launched:
    def __init__(self, command: list[str], workdir: Path, **env: str) -> None:
        self.log = workdir / f"launched-{uuid.uuid4().hex[:8]}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [LAUNCHER, *command], env=launcher_env(**env), cwd=TESTS / "apps",
                stdout=log, stderr=subprocess.STDOUT,
            )

    def wait_for(self, condition, what: str, timeout: float = 60) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                pytest.fail(f"{what}: the program exited: {self.log.read_text()[-3000:]}")
            return bool(condition())

        wait_until(ready, timeout, what)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail("the program did not stop within 30 s of SIGTERM")


@pytest.fixture
def launched(tmp_path):
    programs: list[Launched] = []

    def start(command: list[str], **env: str) -> Launched:
        program = Launched(command, tmp_path, **env)
        programs.append(program)
        return program

    yield start
    for program in programs:
        if program.process.poll() is None:
            program.process.kill()
            program.process.wait()


def amqp_export(service: str) -> dict[str, str]:
    return {"EVENTLOG_EXPORTERS": "amqp", "EVENTLOG_AMQP_URI": AMQP_URI,
            "EVENTLOG_SERVICE_NAME": service, "EVENTLOG_BSP_SCHEDULE_DELAY": "60000"}


def drive_http_then_stop(program: Launched, port: int, queue: BoundQueue) -> list[dict]:
    program.wait_for(lambda: port_open("127.0.0.1", port), f"the server on {port}")
    for number in range(REQUESTS):
        response = requests.get(f"http://127.0.0.1:{port}/orders/{number}", timeout=10)
        assert response.json() == {"id": number}
        assert response.headers["X-Call-Id"]
    program.terminate()
    events = [json.loads(message.body) for message in queue.read(REQUESTS)]
    assert queue.rest(0.5) == []
    return events


@pytest.mark.parametrize(
    "command",
    [
        ["python", "plain_flask.py"],
        ["flask", "--app", "plain_flask", "run", "--host", "127.0.0.1", "--port", "{port}"],
        ["gunicorn", "-w", "2", "-b", "127.0.0.1:{port}", "plain_flask:app"],
        ["gunicorn", "-w", "2", "--preload", "-b", "127.0.0.1:{port}", "plain_flask:app"],
    ],
    ids=["python", "flask-run", "gunicorn", "gunicorn-preload"],
)
def test_http_servers_lose_no_event_on_sigterm(launched, rabbitmq, command):
    service = f"launch{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    port = free_port()
    program = launched([part.format(port=port) for part in command], PORT=str(port), **amqp_export(service))
    events = drive_http_then_stop(program, port, queue)
    assert sorted(e["data"]["status_code"] for e in events) == [200] * REQUESTS
    assert {(e["service_name"], e["entrypoint_protocol"], e["entrypoint_name"]) for e in events} == {
        (service, "Flask", "get_order")
    }


def test_kafka_exporter_under_gunicorn(launched, tansu):
    from tests.test_kafka_exporter import read_topic

    service = f"launch{uuid.uuid4().hex[:8]}"
    port = free_port()
    program = launched(
        ["gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "plain_flask:app"],
        EVENTLOG_EXPORTERS="kafka", EVENTLOG_KAFKA_BOOTSTRAP_SERVERS=tansu,
        EVENTLOG_SERVICE_NAME=service, EVENTLOG_BSP_SCHEDULE_DELAY="60000",
    )
    program.wait_for(lambda: port_open("127.0.0.1", port), "gunicorn")
    for number in range(REQUESTS):
        requests.get(f"http://127.0.0.1:{port}/orders/{number}", timeout=10)
    program.terminate()
    records = read_topic(tansu, f"{service}.events", REQUESTS)
    assert len(records) == REQUESTS


def test_celery_prefork_worker_loses_no_event(launched, rabbitmq):
    import celery_app

    service = f"launch{uuid.uuid4().hex[:8]}"
    queue_name = f"tasks-{service}"
    events = BoundQueue(service)
    program = launched(
        ["celery", "-A", "celery_app", "worker", "--pool", "prefork", "-c", "2", "-Q", queue_name,
         "--without-heartbeat", "--without-gossip", "--without-mingle", "-n", f"{queue_name}@%h"],
        CELERY_TEST_QUEUE=queue_name, **amqp_export(service),
    )
    program.wait_for(lambda: queue_consumed(queue_name), "the Celery worker")
    results = [celery_app.add.apply_async((n, n), queue=queue_name) for n in range(REQUESTS)]
    assert [result.get(timeout=30) for result in results] == [2 * n for n in range(REQUESTS)]
    program.terminate()
    received = [json.loads(m.body) for m in events.read(REQUESTS)]
    assert sorted(e["data"]["task_id"] for e in received) == sorted(r.id for r in results)


def test_nameko_run_loses_no_event(launched, rabbitmq):
    service = f"launch_{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    config = TESTS / "apps" / f"{service}.json"
    config.write_text(json.dumps({"AMQP_URI": AMQP_URI}))
    try:
        program = launched(["nameko", "run", "--config", str(config), "plain_service"],
                           SERVICE_NAME=service, **amqp_export(service))
        program.wait_for(lambda: queue_consumed(f"rpc-{service}"), "the Nameko service")
        for number in range(REQUESTS):
            assert rpc(service, "echo", number) == number
        program.terminate()
    finally:
        config.unlink()
    received = [json.loads(m.body) for m in queue.read(REQUESTS)]
    assert {(e["entrypoint_protocol"], e["entrypoint_name"]) for e in received} == {("Rpc", "echo")}


def run_launcher(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LAUNCHER, *args], env=launcher_env(**env), capture_output=True,
                          text=True, timeout=60, cwd=TESTS / "apps")


def test_info_prints_the_effective_configuration_masked():
    result = run_launcher("--exporters", "amqp", "--info",
                          EVENTLOG_AMQP_URI="amqp://admin:s3cr3t@rabbit:5672//",
                          EVENTLOG_DISABLED_INSTRUMENTATIONS="celery")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[:3] == [f"eventlog-instrument {__version__}", "", "settings:"]
    width = max(len(s.env) for s in SETTINGS)
    assert f"  {'EVENTLOG_AMQP_URI':<{width}} = amqp://admin:***@rabbit:5672//  (EVENTLOG_AMQP_URI)" in lines
    assert f"  {'EVENTLOG_EXPORTERS':<{width}} = amqp  (EVENTLOG_EXPORTERS)" in lines
    assert f"  {'EVENTLOG_EVENT_TYPE':<{width}} = log_event  (default)" in lines
    assert lines[-10:] == [
        "exporters: amqp", "instrumentors:",
        "  celery: disabled by EVENTLOG_DISABLED_INSTRUMENTATIONS", "  django: enabled", "  flask: enabled", "  httpx: enabled",
        "  nameko: enabled", "  requests: enabled", "  urllib: enabled", "  urllib3: enabled",
    ]
    assert "s3cr3t" not in result.stdout and len(lines) == 3 + len(SETTINGS) + 11


def test_help_lists_every_setting_as_a_flag():
    result = run_launcher("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: eventlog-instrument [options] COMMAND [ARGS...]\n")
    for setting in SETTINGS:
        assert "--" + setting.name.replace("_", "-") in result.stdout
        assert setting.env in result.stdout


def test_flags_after_the_command_are_the_commands_own():
    result = run_launcher("--service-name", "orders", "python", "-c",
                          "import os, sys; print(sys.argv[1:], os.environ['EVENTLOG_SERVICE_NAME'])",
                          "--exporters", "bogus", "--info")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "['--exporters', 'bogus', '--info'] orders\n"
    result = run_launcher("python", "-c", "import sys; print(sys.argv[1:])", "--exporters", "bogus")
    assert (result.returncode, result.stdout, result.stderr) == (0, "['--exporters', 'bogus']\n", "")


@pytest.mark.parametrize("command", ["no-such-program", ""], ids=["unknown", "empty"])
def test_unknown_command_is_one_line_and_non_zero(command):
    result = run_launcher(command, "--flag")
    assert (result.returncode, result.stdout) == (127, "")
    assert result.stderr == f"eventlog-instrument: error: command not found: {command}\n"


@pytest.mark.parametrize(
    ("text", "mode", "reason"),
    [("echo ran\n", 0o755, "Exec format error"),
     ("echo ran\n", 0o644, "Permission denied"),
     ("#!/no/such/interpreter\necho ran\n", 0o755, "No such file or directory")],
    ids=["no-shebang", "not-executable", "missing-interpreter"],
)
@pytest.mark.parametrize("found", ["by-path", "on-PATH"])
def test_command_that_cannot_run_is_one_line_and_non_zero(tmp_path, text, mode, reason, found):
    script = tmp_path / "eventlog-test-program"  # a name no other program on PATH has
    script.write_text(text)
    script.chmod(mode)
    if found == "by-path":
        command, env = str(script), {}
    else:
        command, env = script.name, {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    result = run_launcher(command, **env)
    assert (result.returncode, result.stdout) == (126, "")
    assert result.stderr == f"eventlog-instrument: error: cannot run {command}: {reason}\n"


def test_bad_setting_value_is_one_line_and_non_zero():
    result = run_launcher("--timestamp-precision", "days", "python", "-c", "pass")
    assert result.returncode == 2
    assert result.stderr == (
        "eventlog-instrument: error: EVENTLOG_TIMESTAMP_PRECISION='days' is invalid: "
        "expected seconds, milliseconds, microseconds\n"
    )


def test_the_programs_own_sitecustomize_still_runs_and_subprocesses_are_instrumented():
    program = (
        "import os, subprocess, sys\n"
        "from eventlog_instrument import EventLogInstrumentor\n"
        "print(os.environ.get('APP_SITECUSTOMIZE_RAN'), EventLogInstrumentor().is_instrumented)\n"
        "child = 'from eventlog_instrument import EventLogInstrumentor as E; print(E().is_instrumented)'\n"
        "subprocess.run([sys.executable, '-c', child], check=True)\n"
    )
    result = run_launcher("--exporters", "none", "python", "-c", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "yes True\nTrue\n"


def test_disabled_instrumentation_gives_no_events_from_it(launched, rabbitmq):
    service = f"launch{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    port = free_port()
    program = launched(["python", "plain_flask.py"], PORT=str(port),
                       EVENTLOG_DISABLED_INSTRUMENTATIONS="flask", **amqp_export(service))
    program.wait_for(lambda: port_open("127.0.0.1", port), "the server")
    requests.get(f"http://127.0.0.1:{port}/orders/1", timeout=10)
    program.terminate()
    assert queue.rest(1) == []
