"""The cart's writes: build the next event of an order, publish it, and acknowledge it only once
the view has read it back at its place in the log.

Only the instance that owns an order's partition writes the order. Holding the order's lock, the
writer reads the current version, publishes the next event, waits for the broker's
acknowledgement, then for its own consumer to read that offset and apply the event. Of two events
claiming one version the first in the log counts, so an event the view applied is never
overruled, on any instance or replay: an instance that lost its partition while a write was in
flight (paused past its session timeout, say) finds the new owner's event first and answers 503
instead of a 200 the log would contradict. So a 201 is only answered for an event on the broker
that counts, and an update right after its create (or an order-details) already sees the order.

A send that was not confirmed (a timeout, or an error: without the idempotent producer a failed
send may still have been written) may still be or reach the log. The writer keeps it: the next
write of that order first waits for it to settle, then for the view to read the topic up to its
current end, so the new event follows whatever landed (version + 1) instead of reusing a version
and being dropped on replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from shop import events
from shop.broker_reachability import ensure_reachable
from shop.codec import OrderEventCodec
from shop.deadline import Deadline
from shop.errors import KafkaUnavailable, OrderAlreadyExists, OrderNotFound, Rebalancing
from shop.events import OrderEvent
from shop.kafka import Delivery, EventPublisher, version_headers
from shop.order import Order, OrderId, OrderStatus, build_order, whole_millis
from shop.ownership import RETRY_AFTER_S, Ownership
from shop.store import OrderStore

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, to the millisecond, as events keep it (so neither the order nor its event has to cut
    it again)."""
    return whole_millis(datetime.now(UTC))


class OrderWriter:
    def __init__(
        self,
        store: OrderStore,
        publisher: EventPublisher,
        codec: OrderEventCodec,
        topic: str,
        view: View,
        ownership: Ownership,
        timeout_s: float,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._timeout_s = timeout_s
        self._view = view
        self._ownership = ownership
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
        return await self._serialized(order_id, functools.partial(self._create, items_count))

    async def update(self, order_id: OrderId, status: OrderStatus) -> Order:
        """The order in ``status``; no event when it already has it. 404 unknown, 409 final."""
        return await self._serialized(order_id, functools.partial(self._update, status))

    async def _serialized(
        self, order_id: OrderId, write: Callable[[OrderId], Awaitable[Order]]
    ) -> Order:
        """``write`` the order, holding its lock, once its last unconfirmed send has settled.
        One deadline for the whole write: waiting for the lock, settling, publishing."""
        try:
            async with Deadline(self._timeout_s), self._store.locked(order_id):
                self._ensure_owned(order_id)
                await self._settle(order_id)
                return await write(order_id)
        except TimeoutError:
            raise KafkaUnavailable(
                f"the change of order {order_id} did not complete within {self._timeout_s:g} s "
                "(Kafka is slow or unreachable); try again later"
            ) from None

    async def _create(self, items_count: int, order_id: OrderId) -> Order:
        if self._store.get(order_id) is not None:
            raise OrderAlreadyExists(
                f"order {order_id} already exists; choose another orderId or update it"
            )
        now = self._clock()
        event = events.created(build_order(order_id, items_count, now, self._rng), now)
        await self._publish(event)
        return event.order

    async def _update(self, status: OrderStatus, order_id: OrderId) -> Order:
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
        with self._view.sending(event, value):
            delivery = await self._publisher.send(self._topic, key, value, headers, deadline=True)
            try:
                applied = await self._view.confirmed(delivery, event)
            # An error, the request's timeout, the write's deadline, a cancellation: all leave
            # the send in doubt (it may be on the log, and the view may yet read it).
            except BaseException:
                self._unconfirmed[event.order_id] = delivery
                raise
        if not applied:
            raise Rebalancing(
                f"the change of order {event.order_id} was not confirmed by this instance's view "
                "(its partition moved to another instance, another change of it came first, or "
                f"the view stopped); try again in {RETRY_AFTER_S} s",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )

    def _ensure_owned(self, order_id: OrderId) -> None:
        """Only the owner of an order's partition writes it, and only from a complete view; a
        request routed here while the partitions move is a 503 (the router forwards the rest)."""
        if self._view.failed:
            raise KafkaUnavailable(
                "the order view stopped following its topic, so no write can be confirmed; "
                "see /health and the log"
            )
        if not self._ownership.owner(order_id).mine or not self._view.caught_up.is_set():
            raise Rebalancing(
                f"order {order_id} belongs to a partition this instance does not serve now; "
                f"try again in {RETRY_AFTER_S} s",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )

    async def _settle(self, order_id: OrderId) -> None:
        """Before writing an order, the view must hold whatever the order's last unconfirmed send
        left.

        Still pending after another request timeout: 503 again, nothing written.
        """
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

    caught_up: asyncio.Event

    @property
    def failed(self) -> bool: ...

    async def read_to_end(self) -> None: ...

    def confirmed(self, delivery: Delivery, event: OrderEvent) -> asyncio.Future[bool]: ...

    def sending(
        self, event: OrderEvent, value: bytes
    ) -> contextlib.AbstractContextManager[None]: ...
