"""The order view: every order's latest snapshot and version, rebuilt from the topic."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from shop.events import OrderEvent
from shop.order import Order, OrderId


class OrderStore:
    """orderId -> (order, version). Applying an event is idempotent: only newer versions count."""

    def __init__(self) -> None:
        self._orders: dict[OrderId, tuple[Order, int]] = {}
        self._locks: dict[OrderId, asyncio.Lock] = {}
        self._lock_users: dict[OrderId, int] = {}

    def apply(self, event: OrderEvent) -> bool:
        """Apply ``event`` if it is newer than what the view holds; True when it changed it.

        Events of one order share a key, hence a partition, hence arrive in order; a replay or a
        duplicate delivery carries a version the view already has and changes nothing.
        """
        current = self._orders.get(event.order_id)
        if current is not None and event.order_version <= current[1]:
            return False
        self._orders[event.order_id] = (event.order, event.order_version)
        return True

    def get(self, order_id: OrderId) -> tuple[Order, int] | None:
        """The order and its version, or None when the view has no such order."""
        return self._orders.get(order_id)

    def __len__(self) -> int:
        return len(self._orders)

    @contextlib.asynccontextmanager
    async def locked(self, order_id: OrderId) -> AsyncIterator[None]:
        """Hold the lock of one order (read, publish, apply without another writer between).

        A lock lives only while someone holds or waits for it, so the table does not grow with
        the number of orders ever seen.
        """
        lock = self._locks.setdefault(order_id, asyncio.Lock())
        self._lock_users[order_id] = self._lock_users.get(order_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._lock_users[order_id] -= 1
            if not self._lock_users[order_id]:
                del self._lock_users[order_id]
                del self._locks[order_id]
