"""eventlog-instrument: every service call logged as an event, with its call stack.

    from eventlog_instrument import EventLogInstrumentor, dispatch_event
    EventLogInstrumentor().instrument()
    dispatch_event("order_placed", {"order_id": 42}, metadata={"tenant": "acme"})

``call_headers()`` and ``continued_call(...)`` carry call stacks over transports the
package does not instrument (see :mod:`eventlog_instrument.transport`).

The public names are imported on first use, so ``import eventlog_instrument`` is cheap
(the launcher and the start-up hook need it before a program starts) and does not need
Nameko (only ``EventLogDispatcher`` does).
"""

from __future__ import annotations

__version__ = "0.1.0"

TYPE_CHECKING = False
"""``typing.TYPE_CHECKING`` without importing ``typing`` (3 ms), which the start-up hook
would make every Python process of the program pay; type checkers take any constant of
this name as true."""

if TYPE_CHECKING:
    from eventlog_instrument.events import dispatch_event
    from eventlog_instrument.nameko_dispatcher import EventLogDispatcher
    from eventlog_instrument.settings import SettingsError
    from eventlog_instrument.switch import EventLogInstrumentor
    from eventlog_instrument.transport import call_headers, continued_call

__all__ = [
    "EventLogDispatcher",
    "EventLogInstrumentor",
    "SettingsError",
    "__version__",
    "call_headers",
    "continued_call",
    "dispatch_event",
]

_PUBLIC = {
    "EventLogDispatcher": "eventlog_instrument.nameko_dispatcher",
    "EventLogInstrumentor": "eventlog_instrument.switch",
    "SettingsError": "eventlog_instrument.settings",
    "dispatch_event": "eventlog_instrument.events",
    "call_headers": "eventlog_instrument.transport",
    "continued_call": "eventlog_instrument.transport",
}


def __getattr__(name: str) -> object:
    module_name = _PUBLIC.get(name)
    if module_name is None:
        raise AttributeError(f"module 'eventlog_instrument' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
