"""What every ``eventlog`` subcommand is made of, and how it fails."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from eventlog_instrument.settings import Settings

PROG = "eventlog"
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130


class ToolError(Exception):
    """A one-line failure of a subcommand, with its exit status."""

    def __init__(self, message: str, status: int = EXIT_UNREACHABLE) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    example: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Settings], int]

