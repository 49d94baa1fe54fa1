"""The cart's writes: build the next event of an order, publish it, then apply it to the view.

Holding the order's lock, the writer reads the current version, publishes the next event and waits
for the broker's acknowledgement, then applies that same event to the view itself; the consumer's
later apply of it changes nothing. So a 201 is only answered for an event on the broker, and an
update right after its create (or an order-details) already sees the order.

A send that was not confirmed (a timeout, or an error: without the idempotent producer a failed
send may still have been written) may still be or reach the log. The writer keeps it: the next
write of that order first waits for it to settle, then for the view to read the topic up to its
current end, so the new event follows whatever landed (version + 1) instead of reusing a version
and being dropped on replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Protocol

from shop import events
from shop.broker_reachability import ensure_reachable
from shop.codec import OrderEventCodec
from shop.errors import KafkaUnavailable, OrderAlreadyExists, OrderNotFound
from shop.events import OrderEvent
from shop.kafka import Delivery, EventPublisher, version_headers
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
        view: View,
        timeout_s: float,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._timeout_s = timeout_s
        self._view = view
        self._publisher = publisher
        self._codec = codec
        self._topic = topic
        self._clock = clock
        # Generated customers and items are not secrets; SystemRandom costs a system call a draw
        # (about a tenth of a create's CPU, measured).
        self._rng = rng or random.Random()
        # Unconfirmed sends, by order: at most one each (the lock sees to it).
        self._unconfirmed: dict[OrderId, Delivery] = {}

    async def create(self, order_id: OrderId, items_count: int) -> Order:
        """A new order, on the broker and in the view; 409 when the id is taken."""
        async with self._deadline(order_id), self._store.locked(order_id):
            await self._settle(order_id)
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
        async with self._deadline(order_id), self._store.locked(order_id):
            await self._settle(order_id)
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
        await ensure_reachable(self._publisher.client, self._topic)
        value = self._codec.encode(event)
        key = event.order_id.encode("utf-8")
        headers = version_headers(event.order_version)
        delivery = await self._publisher.send(self._topic, key, value, headers)
        try:
            landed = await self._publisher.acknowledged(delivery, self._topic)
        # An error, the request's timeout, the write's deadline, a cancellation: all leave the
        # send in doubt.
        except BaseException:
            self._unconfirmed[event.order_id] = delivery
            raise
        # Before applying: if the view read that offset already, it must hold this event.
        self._view.expect(landed.partition, landed.offset, event.order_id, event.order_version)
        self._store.apply(event, landed.offset)

    @contextlib.asynccontextmanager
    async def _deadline(self, order_id: OrderId) -> AsyncIterator[None]:
        """One deadline for the whole write: waiting for the order's lock, settling, publishing."""
        try:
            async with asyncio.timeout(self._timeout_s):
                yield
        except TimeoutError:
            raise KafkaUnavailable(
                f"the change of order {order_id} did not complete within {self._timeout_s:g} s "
                "(Kafka is slow or unreachable); try again later"
            ) from None

    async def _settle(self, order_id: OrderId) -> None:
        """Before writing an order, the view must be complete (not replaying after a rebalance or
        a loss) and hold whatever the order's last unconfirmed send left.

        Still pending after another request timeout: 503 again, nothing written.
        """
        await self._view.ready()
        delivery = self._unconfirmed.get(order_id)
        if delivery is None:
            return
        try:
            await self._publisher.acknowledged(delivery, self._topic)
        except KafkaUnavailable:
            if not delivery.done():
                raise KafkaUnavailable(
                    f"Kafka has not yet confirmed or refused the previous change of order "
                    f"{order_id}; try again later"
                ) from None
        await self._view.read_to_end()
        del self._unconfirmed[order_id]


class View(Protocol):
    """What the writer needs of the order view's consumer."""

    async def ready(self) -> None: ...

    async def read_to_end(self) -> None: ...

    def expect(self, partition: int, offset: int, order_id: OrderId, version: int) -> None: ...
