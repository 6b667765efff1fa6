"""Call trees assembled from envelopes: who called whom, how long it took, how it ended.

A call's parent is the nearest call id before its own in its ``call_stack`` that has an
event of its own (a standalone RPC client's id, say, has none, so it is skipped).
Manual events hang under the call they were dispatched in. Where a call has several
children the slowest is marked, so following the marks shows the slowest branch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from eventlog_instrument import constants as c

SLOWEST_MARK = "  <- slowest"


@dataclass
class CallNode:
    """One call and what happened under it."""

    envelope: dict[str, Any]
    children: list[CallNode] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        value = self.envelope.get(c.DATA, {}).get("duration_ms")
        return float(value) if isinstance(value, (int, float)) else 0.0


def build_tree(envelopes: Iterable[dict[str, Any]]) -> list[CallNode]:
    """The root calls of ``envelopes``, each with its descendants."""
    envelopes = list(envelopes)
    calls = {
        envelope[c.CALL_ID]: CallNode(envelope)
        for envelope in envelopes
        if envelope.get(c.EVENT_TYPE) == c.ENTRYPOINT_FIRED
    }
    roots: list[CallNode] = []
    for node in calls.values():
        parent = _nearest_known(node.envelope.get(c.CALL_STACK, [])[:-1], calls)
        (calls[parent].children if parent else roots).append(node)
    for envelope in envelopes:
        if envelope.get(c.EVENT_TYPE) != c.ENTRYPOINT_FIRED:
            owner = calls.get(envelope.get(c.CALL_ID, ""))
            if owner is not None:
                owner.events.append(envelope)
    for node in calls.values():
        node.children.sort(key=lambda child: child.envelope.get(c.TIMESTAMP, ""))
    return sorted(roots, key=lambda root: root.envelope.get(c.TIMESTAMP, ""))


def _nearest_known(stack: list[str], calls: dict[str, CallNode]) -> str | None:
    for call_id in reversed(stack):
        if call_id in calls:
            return call_id
    return None


def render_tree(roots: list[CallNode]) -> str:
    """The trees as text, one call a line, the slowest child at each level marked."""
    lines: list[str] = []
    for root in roots:
        _render(root, "", "", lines, slowest=False)
    return "\n".join(lines) + ("\n" if lines else "")


def describe(envelope: dict[str, Any]) -> str:
    """``service.entrypoint (Protocol) 12.3 ms ok``."""
    data = envelope.get(c.DATA, {})
    text = (
        f"{envelope.get(c.SERVICE_NAME)}.{envelope.get(c.ENTRYPOINT_NAME)} "
        f"({envelope.get(c.ENTRYPOINT_PROTOCOL)})"
    )
    if "duration_ms" in data:
        text += f" {data['duration_ms']:.1f} ms"
    if "outcome" in data:
        text += f" {data['outcome']}"
    if data.get("error_type"):
        text += f" {data['error_type']}: {data.get('error_message')}"
    return text


def _render(node: CallNode, first: str, rest: str, lines: list[str], slowest: bool) -> None:
    lines.append(first + describe(node.envelope) + (SLOWEST_MARK if slowest else ""))
    slowest_child = None
    if len(node.children) > 1:
        slowest_child = max(node.children, key=lambda child: child.duration_ms)
    items: list[CallNode | dict[str, Any]] = [*node.events, *node.children]
    for index, item in enumerate(items):
        last = index == len(items) - 1
        branch, indent = ("`-- ", "    ") if last else ("|-- ", "|   ")
        if isinstance(item, CallNode):
            _render(item, rest + branch, rest + indent, lines, item is slowest_child)
        else:
            lines.append(f"{rest}{branch}event {item.get(c.EVENT_TYPE)} {item.get(c.DATA)}")
