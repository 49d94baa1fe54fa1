"""The embedded default: with no Kafka configured, a noida-db broker and the project's Schema
Registry run as children of the service, on loopback, keeping their data in the data dir."""

from __future__ import annotations

import contextlib
import dataclasses

from shop.children import ChildProcess, ensure_port_free, noida_broker, schema_registry
from shop.settings import Settings

LOOPBACK = "127.0.0.1"


@dataclasses.dataclass(frozen=True, slots=True)
class Dependencies:
    """Where the broker and the registry are, and the children serving them (none when they are
    configured)."""

    bootstrap_servers: str
    registry_url: str
    children: tuple[ChildProcess, ...] = ()


async def open_dependencies(stack: contextlib.AsyncExitStack, settings: Settings) -> Dependencies:
    """The configured broker and registry, or embedded ones started on ``stack``."""
    if not settings.embedded:
        assert settings.kafka_bootstrap_servers and settings.schema_registry_url
        return Dependencies(settings.kafka_bootstrap_servers, settings.schema_registry_url)
    # The children serve only this process: loopback, whatever SHOP_HOST opens the APIs to.
    host = LOOPBACK
    for on, port, what, key in (
        (settings.host, settings.cart_port, "cart API", "SHOP_CART_PORT"),
        (settings.host, settings.orders_port, "orders API", "SHOP_ORDERS_PORT"),
        (host, settings.embedded_kafka_port, "embedded Kafka broker", "SHOP_EMBEDDED_KAFKA_PORT"),
        (
            host,
            settings.embedded_registry_port,
            "embedded Schema Registry",
            "SHOP_EMBEDDED_REGISTRY_PORT",
        ),
    ):
        ensure_port_free(on, port, what, key)
    logs = settings.data_dir / "logs"
    bootstrap = f"{host}:{settings.embedded_kafka_port}"
    broker = noida_broker(
        host, settings.embedded_kafka_port, settings.data_dir / "kafka", logs / "kafka.log"
    )
    await stack.enter_async_context(broker.running())
    registry = schema_registry(
        host, settings.embedded_registry_port, bootstrap, logs / "registry.log"
    )
    await stack.enter_async_context(registry.running())
    registry_url = f"http://{host}:{settings.embedded_registry_port}"
    return Dependencies(bootstrap, registry_url, (broker, registry))
