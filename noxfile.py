"""Project tasks: ``nox -s tests`` (the default), ``lint``, ``typecheck``, ``demo``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The whole test suite against the real RabbitMQ and a Tansu (Kafka) broker."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff over the package, the tests and the examples."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", "eventlog_instrument", "tests", "examples", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".[amqp,kafka]", "mypy>=1.10")
    session.run("mypy")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Instrumented calls printed as JSON envelopes by the default console exporter."""
    session.install("-e", ".")
    session.run("python", "examples/demo.py", *session.posargs)
