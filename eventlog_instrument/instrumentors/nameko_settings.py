"""The settings of the Nameko instrumentor."""

from __future__ import annotations

from eventlog_instrument import setting_parsers as p
from eventlog_instrument.setting_row import Setting


class NamekoSettings:
    """The settings of the Nameko instrumentor."""

    nameko_entrypoint_types = Setting(
        parse=p.names,
        accepted="a comma list of Nameko entrypoint class names",
        default="",
        help="Nameko entrypoint types to capture (Rpc, HttpRequestHandler, EventHandler, Timer, "
        "Consumer, ...); all when empty.",
    )
