"""What hostile-request tests share: request text a WSGI environ can hold, the shape of a
safe call id, and waiting for a previous example's events to settle."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import strategies as st

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
SAFE_CALL_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}\.[A-Za-z0-9_.-]{1,100}\." + UUID)

HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=300)
"""What a WSGI environ can hold: latin-1 text; CR and LF never reach it."""
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "X-Call-Stack": HEADER_TEXT | st.lists(st.from_regex(r"[!-+\--~]{1,40}", fullmatch=True),
                                               max_size=30).map(",".join),
        "traceparent": HEADER_TEXT | st.just("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        "tracestate": HEADER_TEXT,
        "X-Anything": HEADER_TEXT,
    },
)


def settled_count(memory: Any) -> int:
    """How many events arrived, once the previous example's have."""
    return len(memory.wait_for(len(memory.events), 0.1))
