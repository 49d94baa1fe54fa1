"""The service, in-process on port 0, against the session's broker and Schema Registry."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from shop.main import RunningService, running_service
from shop.settings import Settings
from tests.waiting import unique


@pytest.fixture(scope="session")
def service_settings(
    bootstrap_servers: str, registry_url: str, kafka_idempotence: bool
) -> Settings:
    """Settings of a service on the session's broker and registry, on free ports."""
    return Settings(
        kafka_bootstrap_servers=bootstrap_servers,
        schema_registry_url=registry_url,
        cart_port=0,
        orders_port=0,
        kafka_idempotence=kafka_idempotence,
        topic=unique("order-events"),
        consumer_group=unique("shop-orders"),
    )


@pytest.fixture(scope="session")
async def service(service_settings: Settings) -> AsyncIterator[RunningService]:
    """One service for the whole session, on its own topic and group."""
    async with running_service(service_settings) as running:
        yield running


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session
