"""Call trees from envelopes: parents found through the call stack, the slowest marked."""

from __future__ import annotations

from eventlog_instrument.tree import build_tree, render_tree


def fired(service: str, name: str, stack: list[str], duration: float, second: int = 0, **data) -> dict:
    return {
        "service_name": service, "entrypoint_protocol": "Rpc", "entrypoint_name": name,
        "call_id": stack[-1], "call_stack": stack, "timestamp": f"2026-01-01T00:00:{second:02d}+00:00",
        "event_type": "entrypoint_fired", "data": {"duration_ms": duration, "outcome": "ok", **data},
    }


def test_three_hop_chain_with_a_client_hop_and_a_manual_event():
    gateway = fired("gateway", "checkout", ["gw.1"], 30.0)
    orders = fired("orders", "place", ["gw.1", "standalone_rpc_proxy.call.x", "or.1"], 20.0, 1)
    mail = fired("mail", "send", ["gw.1", "ma.1"], 2.5, 2, outcome="error", error_type="SMTPError", error_message="down")
    audit = fired("audit", "record", ["gw.1", "standalone_rpc_proxy.call.x", "or.1", "au.1"], 1.0)
    manual = {**orders, "event_type": "order_placed", "data": {"id": 7}}
    tree = render_tree(build_tree([audit, mail, manual, orders, gateway]))
    assert tree == (
        "gateway.checkout (Rpc) 30.0 ms ok\n"
        "|-- orders.place (Rpc) 20.0 ms ok  <- slowest\n"
        "|   |-- event order_placed {'id': 7}\n"
        "|   `-- audit.record (Rpc) 1.0 ms ok\n"
        "`-- mail.send (Rpc) 2.5 ms error SMTPError: down\n"
    )


def test_calls_whose_parent_is_missing_are_roots():
    orphan = fired("orders", "place", ["somewhere.else", "or.1"], 1.0)
    assert [node.envelope["call_id"] for node in build_tree([orphan])] == ["or.1"]
    assert render_tree([]) == ""
