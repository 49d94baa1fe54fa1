"""/health: 503 only when the service cannot serve, and a probe that costs little; /livez and
/readyz beside it."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import tracemalloc
from pathlib import Path

import aiohttp

from shop.main import RunningService, running_service
from shop.probe import PROBE_MAX_AGE_S
from shop.settings import Settings
from tests.service.helpers import answer, create, own_registry
from tests.waiting import unique, wait_until

HEALTH_CALLS = 2_000
AT_ONCE = 20


async def test_health_is_200_degraded_while_only_the_registry_is_gone(
    service_settings: Settings, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """With the registry killed, /health is 200 "degraded" with the registry disconnected on both
    ports, and orders are still created and read (the schema id is known since start-up)."""
    registry, settings = own_registry(service_settings, tmp_path)
    async with registry.running(), running_service(settings) as service:
        async with http.get(f"{service.cart_url}/health") as response:
            status, body = await answer(response)
        assert (status, body["status"], body["schemaRegistry"]) == (200, "healthy", "connected")
        assert registry.pid is not None
        os.kill(registry.pid, signal.SIGKILL)
        await registry.exited()

        async def registry_gone() -> tuple[int, dict[str, object]] | None:
            async with http.get(f"{service.orders_url}/health") as response:
                status, body = await answer(response)
            return (status, body) if body["schemaRegistry"] == "disconnected" else None

        status, body = await wait_until(registry_gone, what="health to see the registry gone")
        assert (status, body["status"]) == (200, "degraded")
        assert (body["kafka"], body["producer"]) == ("connected", "ready")
        async with http.get(f"{service.cart_url}/health") as response:
            status, body = await answer(response)
        assert (status, body["status"], body["schemaRegistry"]) == (200, "degraded", "disconnected")

        order = await create(http, service.cart_url, unique("ORDER"))
        async with http.get(
            f"{service.orders_url}/order-details", params={"orderId": order["orderId"]}
        ) as response:
            status, _ = await answer(response)
        assert status == 200


async def test_health_calls_share_probes_and_leave_no_memory_behind(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """2,000 health calls on both ports, 20 at a time, make about one broker and one registry
    probe a second between them, and Python-tracked memory is no larger afterwards."""
    broker_probe = service.admin.broker_probe
    registry_probe = service.codec.registry_probe

    async def call(number: int) -> int:
        base = service.cart_url if number % 2 else service.orders_url
        async with http.get(f"{base}/health") as response:
            await response.read()
            return response.status

    await asyncio.gather(*(call(number) for number in range(AT_ONCE)))  # warm-up
    made_before = (broker_probe.made, registry_probe.made)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        started = asyncio.get_running_loop().time()
        for first in range(0, HEALTH_CALLS, AT_ONCE):
            statuses = await asyncio.gather(*(call(n) for n in range(first, first + AT_ONCE)))
            assert set(statuses) == {200}
        seconds = asyncio.get_running_loop().time() - started
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    # One probe per dependency per PROBE_MAX_AGE_S, plus the one in flight at each end.
    most = seconds / PROBE_MAX_AGE_S + 2
    assert broker_probe.made - made_before[0] <= most
    assert registry_probe.made - made_before[1] <= most
    assert grown < 1024 * 1024, f"{grown:,} bytes more after {HEALTH_CALLS} health calls"


async def test_livez_and_readyz_answer_on_both_ports_of_a_serving_service(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """A caught-up service that can write is live and ready on both ports."""
    ready = {"status": "ready", "checks": {"kafka": True, "producer": True, "orderView": True}}
    for base in (service.cart_url, service.orders_url):
        async with http.get(f"{base}/livez") as response:
            assert await answer(response) == (200, {"status": "live"})
        async with http.get(f"{base}/readyz") as response:
            assert await answer(response) == (200, ready)
