"""The cart's writes: build the next event of an order, publish it, then apply it to the view.

Holding the order's lock, the writer reads the current version, publishes the next event and waits
for the broker's acknowledgement, then applies that same event to the view itself; the consumer's
later apply of it changes nothing. So a 201 is only answered for an event on the broker, and an
update right after its create (or an order-details) already sees the order.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

from shop import events
from shop.codec import OrderEventCodec
from shop.errors import OrderAlreadyExists, OrderNotFound
from shop.events import OrderEvent
from shop.kafka import EventPublisher
from shop.order import Order, OrderId, OrderStatus, build_order
from shop.store import OrderStore

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class OrderWriter:
    def __init__(
        self,
        store: OrderStore,
        publisher: EventPublisher,
        codec: OrderEventCodec,
        topic: str,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._codec = codec
        self._topic = topic
        self._clock = clock
        self._rng = rng or random.SystemRandom()

    async def create(self, order_id: OrderId, items_count: int) -> Order:
        """A new order, on the broker and in the view; 409 when the id is taken."""
        async with self._store.locked(order_id):
            if self._store.get(order_id) is not None:
                raise OrderAlreadyExists(
                    f"order {order_id} already exists; choose another orderId or update it"
                )
            now = self._clock()
            event = events.created(build_order(order_id, items_count, now, self._rng), now)
            await self._publish(event)
            return event.order

    async def update(self, order_id: OrderId, status: OrderStatus) -> Order:
        """The order in ``status``; no event when it already has it. 404 unknown, 409 final."""
        async with self._store.locked(order_id):
            current = self._store.get(order_id)
            if current is None:
                raise OrderNotFound(f"order {order_id} does not exist; create it first")
            order, version = current
            changed = order.with_status(status)
            if changed == order:
                return order
            event = events.updated(changed, version, self._clock())
            await self._publish(event)
            return event.order

    async def _publish(self, event: OrderEvent) -> None:
        value = self._codec.encode(event)
        await self._publisher.publish(self._topic, event.order_id.encode("utf-8"), value)
        self._store.apply(event)
