"""``eventlog-instrument [options] COMMAND [ARGS...]``: run a program instrumented.

Every setting of the settings table is also a flag (``--exporters amqp``,
``--service-name orders``); a flag wins over its environment variable. The launcher
checks the settings, puts its start-up hook first on ``PYTHONPATH`` (so the program
and its Python subprocesses instrument themselves at start-up, see
:mod:`eventlog_instrument.bootstrap`) and replaces itself with the command.

Everything from the first argument that is not a flag on is the command, flags
included. When the command comes first, ``argparse`` is neither imported nor run: its
parser of every setting costs 4 ms, paid before every instrumented program starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from eventlog_instrument import TYPE_CHECKING, __version__
from eventlog_instrument.bootstrap import HOOK_MARKER
from eventlog_instrument.exporters.registry import check_exporter_names
from eventlog_instrument.settings import (
    SETTINGS,
    Settings,
    SettingsError,
    display_value,
    load_settings,
)

if TYPE_CHECKING:
    import argparse

PROG = "eventlog-instrument"
HOOK_FOLDER = os.path.join(os.path.dirname(os.path.realpath(__file__)), "auto")


def build_parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog=PROG,
        usage=f"{PROG} [options] COMMAND [ARGS...]",
        description="Run COMMAND with every Nameko entrypoint, Flask request and Celery "
        "task logged as an event.",
        epilog=f"example: {PROG} --exporters amqp --service-name orders python app.py",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "--info", action="store_true",
        help="print the effective configuration, exporters and instrumentors, and exit",
    )
    settings = parser.add_argument_group("settings (each also an environment variable)")
    for setting in SETTINGS:
        settings.add_argument(
            "--" + setting.name.replace("_", "-"),
            dest=setting.name,
            metavar="VALUE",
            help=f"{setting.help} [{setting.env}; default: {setting.default or 'none'}]",
        )
    parser.add_argument("command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else list(argv)
    environ = dict(os.environ)
    if given and not given[0].startswith("-"):
        show_info, command_line = False, given
    else:
        arguments = build_parser().parse_args(given)
        for setting in SETTINGS:
            value = getattr(arguments, setting.name)
            if value is not None:
                environ[setting.env] = value
        show_info, command_line = arguments.info, arguments.command
    try:
        settings = load_settings(environ)
        check_exporter_names(settings.exporters)
    except SettingsError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if show_info:
        print(info_text(settings), end="")
        return 0
    if not command_line:
        build_parser().print_usage(sys.stderr)
        print(f"{PROG}: error: no command given", file=sys.stderr)
        return 2
    command, *args = command_line
    try:
        os.execvpe(command, [command, *args], hook_environment(environ))
    except ValueError:  # an empty name, or a NUL in it
        pass
    except OSError as error:
        found = not isinstance(error, (FileNotFoundError, NotADirectoryError))
        # Not found, yet there: the interpreter its shebang line names is missing.
        if found or _is_a_file(command, environ):
            print(f"{PROG}: error: cannot run {command}: {error.strerror}", file=sys.stderr)
            return 126
    print(f"{PROG}: error: command not found: {command}", file=sys.stderr)
    return 127


def _is_a_file(command: str, environ: Mapping[str, str]) -> bool:
    """Whether ``command`` names a file, by its path or on ``PATH``."""
    if os.sep in command:
        return os.path.isfile(command)
    return any(os.path.isfile(os.path.join(folder, command))
               for folder in os.get_exec_path(environ))


def hook_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with the start-up hook first on ``PYTHONPATH``, once."""
    paths = [p for p in environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != HOOK_FOLDER]
    python_path = os.pathsep.join([HOOK_FOLDER, *paths])
    return {**environ, "PYTHONPATH": python_path, HOOK_MARKER: HOOK_FOLDER}


def info_text(settings: Settings) -> str:
    from eventlog_instrument.instrumentors.registry import instrumentor_statuses

    lines = [f"{PROG} {__version__}", "", "settings:"]
    width = max(len(setting.env) for setting in SETTINGS)
    for setting in SETTINGS:
        value = display_value(setting.name, settings) or '""'
        lines.append(f"  {setting.env:<{width}} = {value}  ({settings.sources[setting.name]})")
    exporters = [name for name in settings.exporters if name != "none"]
    lines += ["", f"exporters: {', '.join(exporters) or 'none'}", "instrumentors:"]
    for status in instrumentor_statuses(settings):
        lines.append(f"  {status.name}: {status.reason or 'enabled'}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
