"""/health: 503 only when the service cannot serve."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import aiohttp

from shop.children import free_port, schema_registry
from shop.main import running_service
from shop.settings import Settings
from tests.service.helpers import answer, create, fresh
from tests.waiting import unique, wait_until


async def test_health_is_200_degraded_while_only_the_registry_is_gone(
    service_settings: Settings, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """With the registry killed, /health is 200 "degraded" with the registry disconnected on both
    ports, and orders are still created and read (the schema id is known since start-up)."""
    assert service_settings.kafka_bootstrap_servers is not None
    port = free_port()
    registry = schema_registry(
        "127.0.0.1", port, service_settings.kafka_bootstrap_servers, tmp_path / "registry.log"
    )
    settings = fresh(service_settings, schema_registry_url=f"http://127.0.0.1:{port}")
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
