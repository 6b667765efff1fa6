"""eventlog-instrument: every service call logged as an event, with its call stack.

    from eventlog_instrument import EventLogInstrumentor, dispatch_event
    EventLogInstrumentor().instrument()
    dispatch_event("order_placed", {"order_id": 42}, metadata={"tenant": "acme"})
"""

from eventlog_instrument.events import dispatch_event
from eventlog_instrument.instrumentor import EventLogInstrumentor
from eventlog_instrument.settings import SettingsError

__version__ = "0.1.0"

__all__ = ["EventLogInstrumentor", "SettingsError", "__version__", "dispatch_event"]
