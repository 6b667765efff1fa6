"""The settings of the Django instrumentor."""

from __future__ import annotations

from eventlog_instrument import setting_parsers as p
from eventlog_instrument.setting_row import Setting


class DjangoSettings:
    """The settings of the Django instrumentor."""

    django_excluded_urls = Setting(
        parse=p.regexes,
        accepted="a comma list of regular expressions",
        default="",
        help="Django request paths that get no span and no event (re.search), e.g. ^/health/$.",
    )
