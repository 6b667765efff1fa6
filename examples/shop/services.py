"""The shop's Nameko services: orders (RPC) and notifications (event handler)."""

from nameko.events import EventDispatcher, event_handler
from nameko.rpc import rpc


class Orders:
    name = "orders"
    dispatch = EventDispatcher()

    @rpc
    def place_order(self, item):
        order = {"id": 42, "item": item}
        self.dispatch("order_placed", order)
        return order


class Notifications:
    name = "notifications"

    @event_handler("orders", "order_placed")
    def on_order_placed(self, order):
        return f"told the customer about order {order['id']}"
