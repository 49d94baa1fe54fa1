"""A broker that loses acknowledged records (noida-db killed: it acknowledges before it saves) is
not hidden: the view says so, counts what went, and is rebuilt from what the log holds."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shop.errors import KafkaUnavailable
from shop.main import RunningService, running_service
from shop.settings import Settings
from tests.conftest import broker_kind
from tests.service.helpers import answer, create, fresh, own_broker, topic_records
from tests.waiting import unique, wait_until

ATTEMPTS = 5
BURST = 40


async def orders_in_log(bootstrap: str, topic: str, partitions: int) -> set[str]:
    """The keys the topic holds now (once the restarted broker serves it again)."""

    async def keys() -> set[str] | None:
        try:
            records = await topic_records(bootstrap, topic, partitions, timeout_s=5)
        except KafkaUnavailable:
            return None
        return {record.key.decode() for record in records}

    return await wait_until(keys, timeout=30, what="the restarted broker to serve the topic")


@pytest.mark.persistence
async def test_records_the_broker_lost_after_acknowledging_them_are_reported_and_the_view_rebuilt(
    service_settings: Settings,
    http: aiohttp.ClientSession,
    pytestconfig: pytest.Config,
    tmp_path: Path,
) -> None:
    """SIGKILL noida-db right after a burst of 201s: the orders it lost are gone from the view
    too (it agrees with the log), and /health reports the loss with its counts."""
    if broker_kind(pytestconfig) != "noida":
        pytest.skip("only noida-db acknowledges before it saves")
    broker, bootstrap = own_broker(pytestconfig, tmp_path)
    settings = fresh(service_settings, kafka_bootstrap_servers=bootstrap, request_timeout_s=2.0)
    async with broker.running(), running_service(settings) as service:
        # noida-db keeps everything in one file it rewrites about once a second: the topic must
        # be in it before the burst, or the whole topic is lost with the burst.
        saved = tmp_path / "noida" / "kafka.json"

        async def topic_saved() -> bool:
            return saved.exists() and settings.topic.encode() in saved.read_bytes()

        await wait_until(topic_saved, what="noida-db to save the topic")
        lost = await _kill_until_the_broker_loses(service, broker, http, settings)
        view = service.view.consumer

        async def reported() -> dict[str, Any] | None:
            async with http.get(f"{service.orders_url}/health") as response:
                _, body = await answer(response)
            order_view = body["orderView"]
            if order_view["logLoss"] and order_view["caughtUp"]:
                assert body["status"] == "degraded"
                return order_view  # type: ignore[no-any-return]
            return None

        order_view = await wait_until(reported, timeout=30, what="the loss on /health")
        assert order_view["logLoss"]["ordersLost"] >= len(lost)
        assert view.loss.detected >= 1
        for order_id in lost:
            assert service.view.store.get(order_id) is None
            async with http.get(
                f"{service.orders_url}/order-details", params={"orderId": order_id}
            ) as response:
                assert response.status == 404


async def _kill_until_the_broker_loses(
    service: RunningService, broker: Any, http: aiohttp.ClientSession, settings: Settings
) -> set[str]:
    """Create a burst of orders, SIGKILL the broker at once, restart it on the same data; the
    acknowledged orders its log no longer has (retried while it happened to save in time)."""
    for _ in range(ATTEMPTS):
        acked = {
            (await create(http, service.cart_url, unique("ORDER")))["orderId"] for _ in range(BURST)
        }
        os.kill(broker.pid, signal.SIGKILL)
        await broker.stop()
        await broker.start()
        lost = acked - await orders_in_log(
            service.broker, settings.topic, settings.topic_partitions
        )
        if lost:
            return lost
        # It saved in time; the view must not have cried wolf.
        assert service.view.consumer.loss.detected == 0
    pytest.fail(f"noida-db lost none of {BURST} orders in {ATTEMPTS} kills")
