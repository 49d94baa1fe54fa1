"""The service across its own restart, and its health when the broker goes away."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shop.main import running_service
from shop.settings import Settings
from tests.service.helpers import answer, create, fresh, own_broker
from tests.waiting import unique, wait_until


async def test_view_and_updates_survive_a_restart_of_the_service(
    service_settings: Settings, http: aiohttp.ClientSession
) -> None:
    """After a restart on the same topic and group, old orders are found and can be updated."""
    settings = fresh(service_settings)
    order_ids = [unique("ORDER") for _ in range(5)]
    async with running_service(settings) as first:
        orders = [await create(http, first.cart_url, order_id) for order_id in order_ids]
        async with http.put(
            f"{first.cart_url}/update-order", json={"orderId": order_ids[0], "status": "confirmed"}
        ) as response:
            assert response.status == 200
    async with running_service(settings) as second:
        for order in orders[1:]:
            async with http.get(
                f"{second.orders_url}/order-details", params={"orderId": order["orderId"]}
            ) as response:
                status, details = await answer(response)
            assert status == 200
            assert {**details, "shippingCost": None} == {**order, "shippingCost": None}
        async with http.put(
            f"{second.cart_url}/update-order", json={"orderId": order_ids[0], "status": "shipped"}
        ) as response:
            status, body = await answer(response)
        assert (status, body["order"]["status"]) == (200, "shipped")
        assert second.view.store.get(order_ids[0])[1] == 3  # type: ignore[arg-type, index]
        async with http.post(
            f"{second.cart_url}/create-order", json={"orderId": order_ids[1], "itemsCount": 1}
        ) as response:
            assert response.status == 409


Offsets = dict[TopicPartition, int]


@contextlib.asynccontextmanager
async def _group_offsets(
    settings: Settings, records: int
) -> AsyncIterator[Callable[[], Awaitable[Offsets]]]:
    """A reader of the service group's committed offsets, on a topic of ``records`` records: it
    returns them when they reach the partitions' ends, else an empty dict."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
    )
    partitions = [TopicPartition(settings.topic, p) for p in range(settings.topic_partitions)]
    await consumer.start()

    async def at_the_ends() -> Offsets:
        ends: Offsets = await consumer.end_offsets(partitions)
        committed = {tp: await consumer.committed(tp) or 0 for tp in partitions}
        assert sum(ends.values()) == records
        return committed if committed == ends else {}

    try:
        yield at_the_ends
    finally:
        await consumer.stop()


async def test_a_quiet_view_commits_what_it_applied(
    service_settings: Settings, http: aiohttp.ClientSession
) -> None:
    """Within about a second of the last write, with nothing more to read, the group's committed
    offsets reach the log's ends: operators see no lag on an idle service."""
    settings = fresh(service_settings)
    async with running_service(settings) as service:
        for _ in range(5):
            await create(http, service.cart_url, unique("ORDER"))
        async with _group_offsets(settings, records=5) as at_the_ends:
            await wait_until(at_the_ends, what="the quiet view's commit")


async def test_a_stopped_service_has_committed_all_it_applied(
    service_settings: Settings, http: aiohttp.ClientSession
) -> None:
    """The view commits once a second while it runs, and what it applied when it stops: the
    group's lag is 0 for operators after a stop."""
    settings = fresh(service_settings)
    async with running_service(settings) as service:
        for _ in range(5):
            await create(http, service.cart_url, unique("ORDER"))
    async with _group_offsets(settings, records=5) as at_the_ends:
        assert await at_the_ends()


async def test_a_loss_found_at_a_start_is_reported_once_not_at_every_start(
    service_settings: Settings, http: aiohttp.ClientSession
) -> None:
    """The group's offset past the log's end (the broker lost what the group had read) is a loss
    at the next start, once; the view then commits the log's new end, so the start after it
    reports nothing, even for a partition left with no record to apply."""
    settings = fresh(service_settings)
    async with running_service(settings):  # the topic, and the group's first member
        pass
    emptied = TopicPartition(settings.topic, 0)
    group = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
    )
    await group.start()
    try:
        group.assign([emptied])
        await group.commit({emptied: 7})

        async def moved_back() -> bool:
            return await group.committed(emptied) == 0

        async with running_service(settings) as second:
            await wait_until(moved_back, what="the log's new end committed")
            # Once: not again by a fetch from the committed offset before the replay sought.
            assert second.view.consumer.loss.detected == 1
    finally:
        await group.stop()
    async with running_service(settings) as third:
        assert third.view.consumer.loss.detected == 0


async def test_health_is_503_when_the_broker_is_gone(
    service_settings: Settings,
    http: aiohttp.ClientSession,
    pytestconfig: pytest.Config,
    tmp_path: Path,
) -> None:
    """With its broker stopped, /health answers 503 unhealthy/disconnected on both ports."""
    broker, bootstrap = own_broker(pytestconfig, tmp_path)
    settings = fresh(service_settings, kafka_bootstrap_servers=bootstrap, request_timeout_s=3.0)
    async with broker.running(), running_service(settings) as service:
        for base in (service.cart_url, service.orders_url):
            async with http.get(f"{base}/health") as response:
                assert response.status == 200
        await broker.stop()

        async def unhealthy() -> dict[str, object] | None:
            async with http.get(f"{service.orders_url}/health") as response:
                status, body = await answer(response)
            return body if status == 503 else None

        body = await wait_until(unhealthy, what="health 503")
        assert (body["status"], body["kafka"]) == ("unhealthy", "disconnected")
        async with http.get(f"{service.cart_url}/health") as response:
            status, body = await answer(response)
        assert (status, body["kafka"]) == (503, "disconnected")
        # Not ready (a load balancer sends no traffic), but alive (nothing restarts it).
        for base in (service.cart_url, service.orders_url):
            async with http.get(f"{base}/readyz") as response:
                status, body = await answer(response)
            assert (status, body["status"], body["checks"]["kafka"]) == (503, "not_ready", False)
            async with http.get(f"{base}/livez") as response:
                assert await answer(response) == (200, {"status": "live"})
        async with http.post(
            f"{service.cart_url}/create-order", json={"orderId": unique("ORDER"), "itemsCount": 1}
        ) as response:
            status, body = await answer(response)
        assert (status, body["error"]) == (503, "kafka_unavailable")


async def test_health_is_503_when_the_view_stops_following(
    service_settings: Settings, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consumer task killed by an unexpected error makes /health 503, not a silent stale view,
    and writes a 503 at once: none could be confirmed by the view."""
    async with running_service(fresh(service_settings)) as service:
        async with http.get(f"{service.orders_url}/health") as response:
            status, body = await answer(response)
        assert (status, body["orderView"]["following"]) == (200, True)

        async def broken(values: list[bytes | None]) -> None:
            raise RuntimeError("a bug in applying events")

        monkeypatch.setattr(service.codec, "decode_batch", broken)
        order = {"orderId": unique("ORDER"), "itemsCount": 1}
        async with http.post(f"{service.cart_url}/create-order", json=order) as response:
            assert response.status == 503  # written, but its read-back is what broke the view

        async def unhealthy() -> dict[str, object] | None:
            async with http.get(f"{service.orders_url}/health") as response:
                status, body = await answer(response)
            return body if status == 503 else None

        body = await wait_until(unhealthy, what="health 503")
        assert body["status"] == "unhealthy"
        # The create was never applied, so never acknowledged: the view holds nothing.
        assert (body["orderView"]["following"], body["orderView"]["orders"]) == (False, 0)
        assert (body["kafka"], body["schemaRegistry"]) == ("connected", "connected")
