"""One row of the settings table: a typed descriptor declared once, on a settings class.

The core rows are declared in :mod:`eventlog_instrument.settings`; an exporter or an
instrumentor with settings of its own declares them next to its code, in a class of
rows that :class:`~eventlog_instrument.settings.Settings` inherits (``AmqpSettings`` in
``exporters/amqp_settings.py``, say).
"""

from __future__ import annotations

from eventlog_instrument import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Generic, TypeVar, overload

    from eventlog_instrument.settings import Settings

    T = TypeVar("T")
else:  # ``typing`` would cost the launcher 2 ms before every program it starts
    T = None

    class Generic:
        """What ``Setting(Generic[T])`` needs at run time: ``Setting[X]`` is ``Setting``."""

        def __class_getitem__(cls, parameter: object) -> type:
            return cls

MILLIS = "a positive whole number of milliseconds, at most 3600000"
"""What a milliseconds setting accepts."""
FILE = "a readable file's path, or empty"
"""What a file setting accepts."""


class Setting(Generic[T]):
    """One row of the settings table, declared once as an attribute of :class:`Settings`.

    On a :class:`Settings` object the attribute is the parsed value, typed by ``parse``;
    on the class it is this row.
    """

    name: str
    """Attribute name on :class:`Settings` and keyword of ``instrument(**options)``."""

    def __init__(
        self,
        *,
        parse: Callable[[str], T],
        accepted: str,
        default: str,
        help: str,
        otel_env: str | None = None,
        secret: bool = False,
        password: bool = False,
    ) -> None:
        self.parse = parse
        """Turns the text of the variable into the value; raises ``ValueError`` when bad."""
        self.accepted = accepted
        """What values are accepted, quoted in the error for a bad one."""
        self.default = default
        """Default, as the text an environment variable would hold."""
        self.help = help
        """One line for ``--help``, ``--info`` and the README."""
        self.otel_env = otel_env
        """Standard OpenTelemetry variable used when the ``EVENTLOG_`` one is not set."""
        self.secret = secret
        """The value may hold credentials in URIs: their passwords are masked wherever shown."""
        self.password = password
        """The whole value is a credential: it is shown as ``***``."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    if TYPE_CHECKING:

        @overload
        def __get__(self, settings: None, owner: type) -> Setting[T]: ...

        @overload
        def __get__(self, settings: Settings, owner: type) -> T: ...

    def __get__(self, settings: Settings | None, owner: type) -> Setting[T] | T:
        if settings is None:
            return self
        return settings._values[self.name]  # type: ignore[no-any-return]

    @property
    def env(self) -> str:
        return "EVENTLOG_" + self.name.upper()

    def __repr__(self) -> str:
        return f"Setting({self.env})"


def rows_of(*classes: type) -> tuple[Setting[Any], ...]:
    """The rows declared by ``classes``, in their order and then declaration order."""
    return tuple(
        row for cls in classes for row in vars(cls).values() if isinstance(row, Setting)
    )
