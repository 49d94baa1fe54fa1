"""End-to-end latency: from a create-order request to the order visible in order-details.

Requests go out on a fixed schedule (open loop), whether or not earlier ones have finished, so a
slow service cannot slow the load down and hide its own latency. Latency counts from the moment a
request was due, not when the client got round to sending it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid

import aiohttp

from bench.stats import percentile

ORDER_TIMEOUT_S = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class E2eResult:
    rate_per_s: int
    seconds: float
    orders: int
    failed: int
    create_p50_ms: float
    create_p99_ms: float
    visible_p50_ms: float
    visible_p99_ms: float
    polls_per_order: float
    poll_interval_ms: float


@dataclasses.dataclass(slots=True)
class _Samples:
    create_ms: list[float] = dataclasses.field(default_factory=list)
    visible_ms: list[float] = dataclasses.field(default_factory=list)
    polls: int = 0
    failed: int = 0


async def run(
    cart_url: str,
    orders_url: str,
    rate_per_s: int = 500,
    seconds: float = 10.0,
    poll_interval_s: float = 0.005,
) -> E2eResult:
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    samples = _Samples()
    connector = aiohttp.TCPConnector(limit=512)
    timeout = aiohttp.ClientTimeout(total=ORDER_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.monotonic()
        tasks = []
        for index in range(int(rate_per_s * seconds)):
            due = start + index / rate_per_s
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            order = _Order(session, cart_url, orders_url, f"{prefix}-{index}", due, samples)
            tasks.append(asyncio.create_task(order.run(poll_interval_s)))
        await asyncio.gather(*tasks)
    orders = len(samples.visible_ms)
    return E2eResult(
        rate_per_s=rate_per_s,
        seconds=seconds,
        orders=orders,
        failed=samples.failed,
        create_p50_ms=percentile(samples.create_ms, 0.50),
        create_p99_ms=percentile(samples.create_ms, 0.99),
        visible_p50_ms=percentile(samples.visible_ms, 0.50),
        visible_p99_ms=percentile(samples.visible_ms, 0.99),
        polls_per_order=samples.polls / orders if orders else 0.0,
        poll_interval_ms=poll_interval_s * 1000,
    )


@dataclasses.dataclass(slots=True)
class _Order:
    session: aiohttp.ClientSession
    cart_url: str
    orders_url: str
    order_id: str
    due: float
    samples: _Samples

    async def run(self, poll_interval_s: float) -> None:
        try:
            await self._create()
            self.samples.create_ms.append((time.monotonic() - self.due) * 1000)
            await self._wait_visible(poll_interval_s)
            self.samples.visible_ms.append((time.monotonic() - self.due) * 1000)
        except (TimeoutError, aiohttp.ClientError, _Failed):
            self.samples.failed += 1

    async def _create(self) -> None:
        body = {"orderId": self.order_id, "itemsCount": 2}
        async with self.session.post(f"{self.cart_url}/create-order", json=body) as response:
            await response.read()
            if response.status != 201:
                raise _Failed

    async def _wait_visible(self, poll_interval_s: float) -> None:
        url = f"{self.orders_url}/order-details"
        deadline = self.due + ORDER_TIMEOUT_S
        while time.monotonic() < deadline:
            self.samples.polls += 1
            async with self.session.get(url, params={"orderId": self.order_id}) as response:
                await response.read()
                if response.status == 200:
                    return
                if response.status != 404:
                    raise _Failed
            await asyncio.sleep(poll_interval_s)
        raise _Failed


class _Failed(Exception):
    """The service answered an order with an unexpected status, or never showed it."""
