"""eventlog-instrument: every service call logged as an event, with its call stack.

    from eventlog_instrument import EventLogInstrumentor, dispatch_event
    EventLogInstrumentor().instrument()
    dispatch_event("order_placed", {"order_id": 42}, metadata={"tenant": "acme"})
"""

__version__ = "0.1.0"

from eventlog_instrument.events import dispatch_event
from eventlog_instrument.instrumentor import EventLogInstrumentor
from eventlog_instrument.settings import SettingsError

__all__ = [
    "EventLogDispatcher",
    "EventLogInstrumentor",
    "SettingsError",
    "__version__",
    "dispatch_event",
]


def __getattr__(name: str) -> object:
    """``EventLogDispatcher`` is imported on first use: the package must not need Nameko."""
    if name == "EventLogDispatcher":
        from eventlog_instrument.nameko_dispatcher import EventLogDispatcher

        return EventLogDispatcher
    raise AttributeError(f"module 'eventlog_instrument' has no attribute {name!r}")
