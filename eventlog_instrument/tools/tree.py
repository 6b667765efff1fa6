"""``eventlog tree``: the call tree of one call chain."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from eventlog_instrument import constants as c
from eventlog_instrument.settings import Settings
from eventlog_instrument.tools.brokers import event_source
from eventlog_instrument.tools.command import Command, ToolError
from eventlog_instrument.tools.filters import add_filters, matches, seconds
from eventlog_instrument.tree import build_tree, render_tree


def _add_tree(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("call_id", metavar="CALL_ID", help="any call id of the chain")
    add_filters(parser)
    parser.add_argument(
        "--wait",
        type=seconds,
        default=5.0,
        help="seconds to collect events for (RabbitMQ: from now on; Kafka: "
        "everything since the beginning) [5]",
    )
    parser.add_argument("--json", action="store_true", help="the tree as JSON")


def _run_tree(arguments: argparse.Namespace, settings: Settings) -> int:
    wanted = arguments.call_id
    until = time.monotonic() + arguments.wait
    seen = []
    events = event_source(arguments, settings, until, from_beginning=True)
    print(f"eventlog tree: collecting for {arguments.wait:g}s", file=sys.stderr, flush=True)
    try:
        for envelope in events:
            if matches(envelope, arguments):
                seen.append(envelope)
    except KeyboardInterrupt:
        pass
    # The chain is every event sharing an outermost call with an event that names the id.
    outermost = {e[c.CALL_STACK][0] for e in seen if wanted in (e.get(c.CALL_STACK) or [])}
    collected = [e for e in seen if (e.get(c.CALL_STACK) or [None])[0] in outermost]
    roots = build_tree(collected)
    if arguments.json:
        print(json.dumps([_as_json(root) for root in roots], indent=2))
    else:
        print(render_tree(roots), end="")
    if not collected:
        raise ToolError(f"no event of call {wanted} arrived", 1)
    return 0


def _as_json(node: Any) -> dict[str, Any]:
    return {
        "event": node.envelope,
        "events": node.events,
        "children": [_as_json(child) for child in node.children],
    }



COMMAND = Command(
    "tree",
    "Collect the events of one call chain and print its call tree.",
    "eventlog tree gateway.checkout.9f1c3c5e-... --service gateway,orders --wait 5",
    _add_tree,
    _run_tree,
)
