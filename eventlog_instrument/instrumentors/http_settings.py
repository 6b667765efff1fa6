"""The settings of instrumented HTTP servers (Flask, and the WSGI layer) and clients."""

from __future__ import annotations

from eventlog_instrument import setting_parsers as p
from eventlog_instrument.setting_row import Setting


class HttpSettings:
    """The settings of instrumented HTTP servers (Flask, and the WSGI layer) and clients."""

    flask_excluded_urls = Setting(
        parse=p.regexes,
        accepted="a comma list of regular expressions",
        default="",
        help="Flask request paths that get no span and no event (re.search), e.g. ^/health$.",
    )
    capture_request_headers = Setting(
        parse=p.names,
        accepted="a comma list of header names",
        default="",
        help="Request headers put in an event's data (Flask), scrubbed by EVENTLOG_SCRUB_DENYLIST.",
    )
    call_id_response_header = Setting(
        parse=p.boolean,
        accepted="true or false",
        default="true",
        help="Answer every instrumented HTTP request with its call id in the X-Call-Id header.",
    )
    http_client_excluded_hosts = Setting(
        parse=p.regexes,
        accepted="a comma list of regular expressions",
        default="",
        help=(
            "Hosts that outgoing HTTP requests send no X-Call-Stack or trace headers to "
            r"(re.search in the host name), e.g. ^api\.partner\.com$. None by default."
        ),
    )
