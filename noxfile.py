"""Project tasks: ``nox -s tests`` (the default), ``lint``, ``typecheck``, ``demo``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = "3.11"
LINTED = ("eventlog_instrument", "tests", "examples", "benchmarks", "noxfile.py")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite against the real RabbitMQ and a Tansu (Kafka) broker."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the package, the tests, the examples and the benchmarks."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", *LINTED)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".[amqp,kafka]", "mypy>=1.10")
    session.run("mypy")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The shop demo under eventlog-instrument; ``-- --full`` runs it all on RabbitMQ."""
    session.install("-e", ".[demo]")
    session.run("python", "examples/demo.py", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Regenerate the README's configuration table from the settings table."""
    session.install("-e", ".")
    session.run("python", "-c", (
        "import pathlib, re\n"
        "from eventlog_instrument.settings import settings_table_markdown\n"
        "readme = pathlib.Path('README.md')\n"
        "start = '<!-- settings-table: generated from eventlog_instrument/settings.py; "
        "tests/test_readme.py keeps it in step -->\\n'\n"
        "end = '<!-- end settings-table -->'\n"
        "text = readme.read_text()\n"
        "head, rest = text.split(start)\n"
        "readme.write_text(head + start + settings_table_markdown() + end + rest.split(end)[1])\n"
    ))


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks, comparisons side by side in one run; tables to benchmarks/results.md."""
    session.install(
        "-e", ".[test]",
        "opentelemetry-instrumentation-flask==0.66b1",
        "opentelemetry-instrumentation-celery==0.66b1", "opentelemetry-api==1.45.1",
        "opentelemetry-instrumentation-django==0.66b1",
        "opentelemetry-sdk==1.45.1", "opentelemetry-exporter-otlp-proto-http==1.45.1",
        "ddtrace==4.16.0", "sentry-sdk==2.75.0", "elastic-apm==6.26.2",
    )
    tables = []
    for script in (
        "flask_overhead.py", "flask_instructions.py", "nameko_rpc.py", "eventlet_drops.py",
        "celery_throughput.py", "celery_instructions.py", "export_throughput.py",
        "envelope_cost.py", "startup.py",
        "django_instructions.py",
        "flask_logs_instructions.py",
        "http_client_instructions.py",
    ):
        tables.append(session.run(
            "python", f"benchmarks/{script}", silent=True, env={"PYTHONWARNINGS": "ignore"}
        ))
    report = "\n\n".join(table.strip() for table in tables if table) + "\n"
    with open("benchmarks/results.md", "w", encoding="utf-8") as results:
        results.write(report)
    session.log(report)


NAMEKO_TESTS = ["tests/test_nameko.py", "tests/test_dropin_dispatcher.py"]
DJANGO_TESTS = [
    "tests/test_django.py", "tests/test_django_inprocess.py", "tests/test_django_edges.py",
    "tests/test_django_launch.py", "tests/test_django_chain.py",
]
HTTP_CLIENT_TESTS = ["tests/test_http_clients.py", "tests/test_http_client_headers.py"]
MATRIX = {
    "nameko-2.14": (["nameko==2.14.1"], NAMEKO_TESTS),
    "nameko-3.0": (["nameko==3.0.0rc11"], NAMEKO_TESTS),
    "flask-2.3": (["flask==2.3.3", "werkzeug<3"], ["tests/test_flask.py"]),
    "flask-3": (["flask>=3,<4"], ["tests/test_flask.py"]),
    "celery-5.3": (["celery==5.3.6"], ["tests/test_celery.py"]),
    "celery-5-newest": (["celery>=5.3,<6"], ["tests/test_celery.py"]),
    "django-4.2": (["django>=4.2,<4.3", "djangorestframework"], DJANGO_TESTS),
    "django-5.2": (["django>=5.2,<5.3", "djangorestframework"], DJANGO_TESTS),
    # requests 2.30 was the first to allow urllib3 2; later ones still take 1.26
    "urllib3-1.26": (["urllib3>=1.26,<2", "requests>=2.31,<3"], HTTP_CLIENT_TESTS),
}


@nox.session(python=PYTHON)
@nox.parametrize("target", list(MATRIX))
def matrix(session: nox.Session, target: str) -> None:
    """The framework tests against each supported version of each framework."""
    pins, test_files = MATRIX[target]
    session.install("-e", ".[test]", *pins)
    session.run("pytest", *test_files, *session.posargs)
