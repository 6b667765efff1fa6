"""``eventlog check``: connect to every configured exporter's broker, publish nothing.

Each exporter checks itself with its own configuration (TLS, SASL) through its
``check(timeout)`` method, which returns what to report (``ok`` and where) or raises a
one-line error (reported as ``FAILED``); an exporter without that method (a third
party's, say) reports ``no check``. ``none`` selects no exporter and is skipped.
"""

from __future__ import annotations

import argparse

from eventlog_instrument.exporters.registry import create_exporters
from eventlog_instrument.masking import mask_uri
from eventlog_instrument.settings import Settings
from eventlog_instrument.tools.command import Command

_NAME_WIDTH = 8


def _add_check(parser: argparse.ArgumentParser) -> None:
    del parser


def _run_check(arguments: argparse.Namespace, settings: Settings) -> int:
    failures = 0
    names = [name for name in dict.fromkeys(settings.exporters) if name != "none"]
    for name, exporter in zip(names, create_exporters(settings), strict=True):
        check = getattr(exporter, "check", None)
        if check is None:
            status = "no check"
        else:
            try:
                status = check(settings.amqp_timeout)
            except Exception as error:
                failures += 1
                lines = str(error).splitlines() or [type(error).__name__]
                status = f"FAILED {mask_uri(lines[0])}"
        print(f"{name:<{_NAME_WIDTH}} {status}")
    return 0 if not failures else 3


COMMAND = Command(
    "check",
    "Connect to every configured exporter's broker, publish nothing, report.",
    "EVENTLOG_EXPORTERS=amqp,kafka eventlog check",
    _add_check,
    _run_check,
)
