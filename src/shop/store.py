"""The order view: every order's latest event and where it stands in the log, rebuilt from it."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from shop.event_rules import Held
from shop.events import OrderEvent
from shop.order import Order, OrderId
from shop.partitioning import partition_of


class OrderStore:
    """orderId -> the latest event held and its offset. Applying is idempotent: an event counts
    only when its version is later in the order's history than the one held."""

    def __init__(self) -> None:
        self._orders: dict[OrderId, Held] = {}
        self._locks: dict[OrderId, _Users] = {}

    def apply(self, event: OrderEvent, offset: int) -> bool:
        """Hold ``event``, read at ``offset``, if it is later than what is held; True if so.

        Events of one order share a key, hence a partition, hence arrive in order; a replay or a
        duplicate delivery changes nothing. Of two events claiming one version (a write retried
        without the idempotent producer, or an instance that lost its partition with a write in
        flight), the first in the log counts, live and on replay alike: the writer acknowledges
        only an event the view applied, so an acknowledged event is never overruled.
        """
        held = self._orders.get(event.order_id)
        if held is not None and event.order_version <= held.event.order_version:
            return False
        self._orders[event.order_id] = Held(event, offset)
        return True

    def get(self, order_id: OrderId) -> tuple[Order, int] | None:
        """The order and its version, or None when the view has no such order."""
        held = self._orders.get(order_id)
        return None if held is None else (held.event.order, held.event.order_version)

    def held(self, order_id: OrderId) -> Held | None:
        """The latest event held of the order and its offset."""
        return self._orders.get(order_id)

    def versions(self) -> dict[OrderId, int]:
        """Every order's version (to compare the view before and after a rebuild)."""
        return {order_id: held.event.order_version for order_id, held in self._orders.items()}

    def clear(self) -> None:
        """Forget every order (the view is about to be rebuilt from the log)."""
        self._orders.clear()

    def keep_only(self, partitions: Collection[int], count: int) -> None:
        """Forget the orders of every partition but ``partitions`` (of ``count``): another
        instance owns them now."""
        kept = set(partitions)
        if count == 0:
            self._orders.clear()
            return
        for order_id in [o for o in self._orders if partition_of(o.encode(), count) not in kept]:
            del self._orders[order_id]

    def __len__(self) -> int:
        return len(self._orders)

    def locked(self, order_id: OrderId) -> OrderLock:
        """The lock of one order (read, publish, apply without another writer between), held by
        ``async with``.

        A lock lives only while someone holds or waits for it, so the table does not grow with
        the number of orders ever seen.
        """
        return OrderLock(self._locks, order_id)


class _Users:
    __slots__ = ("count", "lock")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.count = 0  # holding or waiting


class OrderLock:
    """``async with`` holds one order's lock. A class, not a generator context manager: every
    write takes one, and this costs a third as much (measured)."""

    __slots__ = ("_locks", "_order_id", "_users")

    def __init__(self, locks: dict[OrderId, _Users], order_id: OrderId) -> None:
        self._locks = locks
        self._order_id = order_id

    async def __aenter__(self) -> None:
        users = self._locks.get(self._order_id)
        if users is None:
            users = self._locks[self._order_id] = _Users()
        users.count += 1
        self._users = users
        try:
            await users.lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._users.lock.release()
        self._leave()

    def _leave(self) -> None:
        self._users.count -= 1
        if not self._users.count:
            del self._locks[self._order_id]
