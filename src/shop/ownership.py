"""Which instance owns each partition of the order topic, as the consumer group last assigned them.

Kafka, not this code, decides: the group's assignor (:mod:`shop.orders.assignor`) gives every
member the whole partition -> instance table with its assignment, the way Kafka Streams' instances
learn each other's ``application.server``. Between a revocation and the next assignment nobody is
known to own anything, so requests for orders answer 503 with ``Retry-After``.

A process that was frozen (SIGSTOP, a long GC pause, a VM migration) for longer than the group's
session timeout has been dropped from the group, though it cannot know it until its next
heartbeat: another instance may own its partitions already. Ownership notices the gap in its own
clock and answers "rebalancing" until the next assignment, so a resumed instance never serves a
stale view.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgspec

from shop.background import running_beside
from shop.errors import Rebalancing
from shop.partitioning import partition_of

log = logging.getLogger(__name__)

TICK_S = 0.5
# How long a client waits before retrying a request that met a rebalance.
RETRY_AFTER_S = 1


class Instance(msgspec.Struct, frozen=True, gc=False):
    """Where one instance's two APIs are reached by the other instances."""

    cart_url: str
    orders_url: str

    def to_json(self) -> dict[str, str]:
        return {"cart": self.cart_url, "orders": self.orders_url}

    @classmethod
    def from_json(cls, data: Any) -> Instance:
        return cls(str(data["cart"]), str(data["orders"]))


class Owner(msgspec.Struct, frozen=True, gc=False):
    """The instance that owns the partition of an order."""

    partition: int
    instance: Instance
    mine: bool


class Ownership:
    """The partition -> instance table of the group's last assignment, and this instance's part."""

    def __init__(self, me: Instance, session_timeout_s: float) -> None:
        self.me = me
        self._session_timeout_s = session_timeout_s
        self._owners: dict[int, Instance] = {}
        self._stable = False
        self.generation = 0
        self._last_tick = 0.0
        # When a freeze longer than the session timeout was noticed; cleared by the next
        # assignment, or after two more session timeouts (the group did not drop us after all).
        self._thawed_at: float | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Ownership]:
        """Watch this process's own clock while the block runs (see the module's docstring)."""
        self._last_tick = asyncio.get_running_loop().time()
        async with running_beside(
            self._tick(),
            "ownership clock",
            "a frozen process is no longer noticed: it may answer for partitions it lost",
        ):
            yield self

    def assigned(self, owners: Mapping[int, Instance]) -> None:
        """The group's new table (every partition of the topic)."""
        self._owners = dict(owners)
        self._stable = True
        self._thawed_at = None
        self.generation += 1

    def revoked(self) -> None:
        """A rebalance began: nobody is known to own anything until the next assignment."""
        self._stable = False

    @property
    def stable(self) -> bool:
        return self._stable and not self._frozen_now() and not self._in_doubt()

    @property
    def partitions(self) -> int:
        """How many partitions the topic has, as the last assignment's table says."""
        return len(self._owners)

    def owned(self) -> list[int]:
        """The partitions this instance owns (as of the last assignment)."""
        return sorted(p for p, instance in self._owners.items() if instance == self.me)

    def owner(self, order_id: str) -> Owner:
        """The owner of ``order_id``'s partition; :class:`Rebalancing` while the table is not
        known to be current."""
        if not self.stable or not self._owners:
            raise Rebalancing(
                "the service's instances are rebalancing their partitions; "
                f"try again in {RETRY_AFTER_S} s",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        partition = partition_of(order_id.encode("utf-8"), len(self._owners))
        instance = self._owners[partition]
        return Owner(partition, instance, instance == self.me)

    def report(self) -> dict[str, object]:
        """What ``/health`` shows of the ownership (JSON-ready)."""
        return {
            "stable": self.stable,
            "generation": self.generation,
            "instance": self.me.to_json(),
            "owned": self.owned(),
            "table": {str(p): owner.to_json() for p, owner in sorted(self._owners.items())},
        }

    def _frozen_now(self) -> bool:
        """Frozen until this very moment (the clock task has not run since)."""
        return asyncio.get_running_loop().time() - self._last_tick > self._session_timeout_s

    def _in_doubt(self) -> bool:
        if self._thawed_at is None:
            return False
        since = asyncio.get_running_loop().time() - self._thawed_at
        return since < 2 * self._session_timeout_s

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(TICK_S)
            if self._frozen_now():
                self._thawed_at = loop.time()
                log.warning(
                    "this process was frozen for %.1f s, longer than the group's session timeout:"
                    " it answers 503 for every order until the group assigns it partitions again",
                    loop.time() - self._last_tick,
                )
            self._last_tick = loop.time()


def encode(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")
