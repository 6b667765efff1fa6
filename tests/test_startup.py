"""Start-up under the launcher: nothing heavy until first use, and nothing lost after it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import eventlog_instrument
from eventlog_instrument import lazystart
from eventlog_instrument.instrumentors.registry import instrumentor_statuses
from eventlog_instrument.settings import load_settings
from tests.apps.sigterm_race import wait_until_asleep
from tests.support.brokers import AMQP_URI, BoundQueue
from tests.support.paths import TESTS

LAUNCHER = str(Path(sys.executable).parent / "eventlog-instrument")
HEAVY = ("opentelemetry", "kombu", "amqp", "kafka", "wrapt", "typing", "signal")
"""The SDK (and its API), the exporters' clients, what wraps frameworks, ``typing`` (3 ms,
which the hook would add to every Python process) and ``signal`` (2-4 ms with its
``enum``: the SIGTERM flush goes through ``_signal``)."""

PROGRAM = """
import json, sys
def heavy():
    return sorted(m for m in sys.modules if m.split(".")[0] in %(heavy)r)
print(json.dumps(heavy()))
import flask
app = flask.Flask("startup_app")
app.add_url_rule("/orders/<int:number>", "order", lambda number: {"id": number})
assert app.test_client().get("/orders/7").json == {"id": 7}
from eventlog_instrument import dispatch_event
dispatch_event("order_counted", {"count": 1})
print(json.dumps(heavy()))
"""


def called_in_a_thread(function: str) -> str:
    """Program lines calling ``function`` in a new thread and waiting for it."""
    return (f"import threading\nthread = threading.Thread(target={function})\n"
            "thread.start()\nthread.join()\n")


def program_environ(**env: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTLOG_", "OTEL_"))}
    return {**environ, "PYTHONPATH": str(TESTS / "apps"), **env}


def launch(program: str, *, launcher: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", program]
    return subprocess.run([LAUNCHER, *command] if launcher else command,
                          env=program_environ(**env), capture_output=True, text=True, timeout=60)


def test_nothing_heavy_is_imported_until_a_framework_then_every_event_arrives(rabbitmq):
    service = f"startup{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    result = launch(PROGRAM % {"heavy": HEAVY}, EVENTLOG_EXPORTERS="amqp,kafka",
                    EVENTLOG_AMQP_URI=AMQP_URI, EVENTLOG_SERVICE_NAME=service,
                    EVENTLOG_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",
                    EVENTLOG_SHUTDOWN_TIMEOUT="1000")
    assert result.returncode == 0, result.stderr
    before, after = (json.loads(line) for line in result.stdout.splitlines())
    assert before == []
    assert {"opentelemetry.sdk.trace", "wrapt"} <= set(after)
    events = [json.loads(message.body) for message in queue.read(2)]
    assert queue.rest(0.5) == []
    fired, counted = sorted(events, key=lambda event: event["event_type"])
    assert (fired["service_name"], fired["entrypoint_protocol"], fired["entrypoint_name"]) == (
        service, "Flask", "order")
    assert fired["data"]["status_code"] == 200
    assert (counted["event_type"], counted["data"]) == ("order_counted", {"count": 1})


@pytest.mark.parametrize("asking", ["ask()\n", called_in_a_thread("ask")],
                         ids=["main-thread", "another-thread"])
def test_a_program_that_only_asks_the_switch_is_instrumented(asking):
    result = launch(
        "import sys\n"
        "def ask():\n"
        "    from eventlog_instrument import EventLogInstrumentor\n"
        "    print(EventLogInstrumentor().is_instrumented, 'opentelemetry.sdk.trace' in sys.modules)\n"
        + asking,
        EVENTLOG_EXPORTERS="none",
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "True True\n", "")


@pytest.mark.parametrize("first_use", ["fire()\n", called_in_a_thread("fire")],
                         ids=["main-thread", "another-thread"])
def test_sigterm_flushes_what_a_first_use_in_any_thread_queued(rabbitmq, first_use):
    service = f"sigterm{uuid.uuid4().hex[:8]}"
    queue = BoundQueue(service)
    program = (
        "import time\n"
        "def fire():\n"
        "    from eventlog_instrument import dispatch_event\n"
        "    dispatch_event('queued', {'n': 1})\n"
        f"{first_use}"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [LAUNCHER, sys.executable, "-c", program], stdout=subprocess.PIPE, text=True,
        env=program_environ(EVENTLOG_EXPORTERS="amqp", EVENTLOG_AMQP_URI=AMQP_URI,
                            EVENTLOG_SERVICE_NAME=service, EVENTLOG_BSP_SCHEDULE_DELAY="600000"),
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        # A SIGTERM that lands as the main thread starts its sleep waits for the sleep's
        # end when the first event came from another thread (see sigterm_knock).
        wait_until_asleep(process.pid, process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == -signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
    # the export thread waits 10 minutes between batches: only the SIGTERM flush sends it
    (event,) = [json.loads(message.body) for message in queue.read(1)]
    assert (event["event_type"], event["data"]) == ("queued", {"n": 1})


def test_a_sigterm_the_sleeping_main_thread_missed_still_ends_a_launched_program():
    """The start-up hook's handler makes SIGTERM wait for the main thread's next signal
    check; a SIGTERM that lands just before it sleeps must not wait for the sleep."""
    program = (
        "import time, sigterm_race\n"
        "from eventlog_instrument import dispatch_event\n"
        "dispatch_event('queued', {'n': 1})\n"  # events to flush: the process is watched
        "sigterm_race.sigterm_off_the_main_thread_once_it_sleeps()\n"
        "time.sleep(3600)\n"
    )
    result = subprocess.run([LAUNCHER, sys.executable, "-c", program],
                            env=program_environ(EVENTLOG_EXPORTERS="memory"),
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stderr) == (-signal.SIGTERM, "")


def test_sigterm_while_another_thread_imports_the_switch_ends_the_process_quietly():
    result = launch(
        "import os, signal, sys, types\n"
        "sys.modules['eventlog_instrument.switch'] = types.ModuleType('half-imported')\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n",
        EVENTLOG_EXPORTERS="none",
    )
    assert (result.returncode, result.stderr) == (-signal.SIGTERM, "")


def test_the_start_up_hook_imports_nothing_but_its_own_modules_until_first_use():
    listing = "import sys; print(' '.join(sorted(sys.modules)))"
    bare = launch(listing, launcher=False)
    hooked = launch(listing, EVENTLOG_EXPORTERS="amqp")
    assert (hooked.returncode, hooked.stderr) == (0, "")
    added = set(hooked.stdout.split()) - set(bare.stdout.split())
    assert "eventlog_instrument.lazystart" in added
    assert {name for name in added if name.partition(".")[0] != "eventlog_instrument"} == set()


def test_the_launcher_imports_only_what_starting_the_command_needs():
    # -S: no site, so no editable install's finder importing ``pathlib`` before the launcher
    checkout = str(Path(eventlog_instrument.__file__).parent.parent)
    result = subprocess.run([sys.executable, "-S", "-X", "importtime", LAUNCHER, "true"],
                            env={**os.environ, "PYTHONPATH": checkout},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()}
    assert "eventlog_instrument.launcher" in imported
    assert imported.isdisjoint(
        {"argparse", "typing", "shutil", "pathlib", "signal", "urllib.parse", "ipaddress"})


def test_a_bad_setting_still_fails_at_start_up():
    result = launch("pass", EVENTLOG_BSP_MAX_QUEUE_SIZE="-1")
    assert result.returncode == 2
    assert result.stderr.startswith("eventlog-instrument: error: EVENTLOG_BSP_MAX_QUEUE_SIZE=")
    assert result.stderr.count("\n") == 1


def test_every_built_in_instrumentor_has_a_trigger_before_its_targets_run():
    modules = lazystart.triggers()
    assert modules is not None
    assert set(lazystart.ALWAYS) <= modules
    for status in instrumentor_statuses(load_settings({})):
        cls = status.instrumentor_class
        if cls is None:
            continue
        trigger = lazystart.TRIGGER_OF.get(status.name, status.name)
        assert trigger in modules
        wrapped = {module for module, _, _ in cls.targets} or {cls.library}
        assert any(module == trigger or module.startswith(trigger + ".") for module in wrapped), (
            status.name, trigger, wrapped)


def write_entry_points(folder: Path, distribution: str, lines: str) -> None:
    info = folder / f"{distribution}-1.0.dist-info"
    info.mkdir()
    (info / "entry_points.txt").write_text(lines, encoding="utf-8")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("eventlog_instrument.instrumentors.flask:FlaskInstrumentor",
         frozenset({"flask", "urllib.request", *lazystart.ALWAYS})),
        ("their_package.instrument:TheirInstrumentor", None),
    ],
    ids=["own", "another-distribution"],
)
def test_an_instrumentor_of_another_distribution_means_instrumenting_at_once(
    tmp_path, value, expected
):
    write_entry_points(tmp_path, "some_tool", "[console_scripts]\nflask = x:y\n")
    write_entry_points(
        tmp_path, "instrumentors",
        "[eventlog_instrument.instrumentors]\n"
        "urllib = eventlog_instrument.instrumentors.urllib_client:UrllibInstrumentor\n"
        f"flask = {value}\n\n[eventlog_instrument.exporters]\nsink = x:y\n",
    )
    assert lazystart.triggers([str(tmp_path), str(tmp_path / "missing")]) == expected
