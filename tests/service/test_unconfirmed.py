"""A change whose acknowledgement came too late (503) but which landed is not overwritten."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from shop.events import OrderEvent
from shop.main import RunningService, running_service
from shop.order import OrderStatus
from shop.settings import Settings
from shop.store import OrderStore
from tests.service.helpers import answer, create, events_of, fresh, own_broker, put_status
from tests.waiting import unique, wait_until


@pytest.mark.idempotence
async def test_a_retry_after_an_unconfirmed_update_follows_it(
    service_settings: Settings,
    http: aiohttp.ClientSession,
    pytestconfig: pytest.Config,
    tmp_path: Path,
) -> None:
    """An update that timed out but landed later is version 2; the retry becomes version 3."""
    found, _ = await _update_while_paused_then_retry(
        fresh(service_settings, kafka_idempotence=True), http, pytestconfig, tmp_path
    )
    assert [(event.order_version, event.order.status) for event in found] == [
        (1, OrderStatus.NEW),
        (2, OrderStatus.CONFIRMED),
        (3, OrderStatus.SHIPPED),
    ]


async def test_without_idempotence_the_view_agrees_with_the_log_and_counts_a_second_claim(
    service_settings: Settings,
    http: aiohttp.ClientSession,
    pytestconfig: pytest.Config,
    tmp_path: Path,
) -> None:
    """Without the idempotent producer a timed-out send can land after its retry took the same
    version (a test-broker mode, README); the view then agrees with a replay of the log, and
    every second claim to a version is counted."""
    settings = fresh(service_settings, kafka_idempotence=False)
    found, service = await _update_while_paused_then_retry(settings, http, pytestconfig, tmp_path)
    distinct = list({event.event_id: event for event in found}.values())  # retries may repeat one
    claims = len(distinct) - len({event.order_version for event in distinct})
    assert service.view.consumer.conflicts == claims
    replay = OrderStore()
    for offset, event in enumerate(found):
        replay.apply(event, offset)
    order_id = found[0].order_id
    assert replay.get(order_id) == service.view.store.get(order_id)


async def _update_while_paused_then_retry(
    settings: Settings, http: aiohttp.ClientSession, pytestconfig: pytest.Config, tmp_path: Path
) -> tuple[list[OrderEvent], RunningService]:
    """Create an order, update it while the broker is paused (503), retry once it resumes; the
    order's events as the log holds them (once the view has read them all), and the service."""
    broker, bootstrap = own_broker(pytestconfig, tmp_path)
    settings = dataclasses.replace(
        settings, kafka_bootstrap_servers=bootstrap, request_timeout_s=1.0
    )
    async with broker.running(), running_service(settings) as service:
        order_id = unique("ORDER")
        await create(http, service.cart_url, order_id)
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGSTOP)  # the broker hears the update but cannot answer yet
        try:
            assert await put_status(http, service.cart_url, order_id, "confirmed") == 503
        finally:
            os.kill(broker.pid, signal.SIGCONT)

        async def shipped() -> bool:
            return await put_status(http, service.cart_url, order_id, "shipped") == 200

        await wait_until(shipped, what="the retried update to succeed")
        await service.view.consumer.read_to_end()
        found = await events_of(
            service.broker, settings.topic, settings.topic_partitions, service.codec, order_id
        )
        async with http.get(
            f"{service.orders_url}/order-details", params={"orderId": order_id}
        ) as response:
            status, body = await answer(response)
        if settings.kafka_idempotence:
            assert (status, body["status"]) == (200, "shipped")
        return found, service


@pytest.mark.idempotence
async def test_a_write_waits_no_longer_than_the_request_timeout(
    service_settings: Settings,
    http: aiohttp.ClientSession,
    pytestconfig: pytest.Config,
    tmp_path: Path,
) -> None:
    """Writes queued on one order while Kafka is stalled each answer 503 at their own deadline."""
    broker, bootstrap = own_broker(pytestconfig, tmp_path)
    settings = fresh(service_settings, kafka_bootstrap_servers=bootstrap, request_timeout_s=1.0)
    async with broker.running(), running_service(settings) as service:
        order_id = unique("ORDER")
        await create(http, service.cart_url, order_id)
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGSTOP)
        try:

            async def put(status: str) -> tuple[int, Any]:
                async with http.put(
                    f"{service.cart_url}/update-order", json={"orderId": order_id, "status": status}
                ) as response:
                    return await answer(response)

            answers = await asyncio.gather(put("confirmed"), put("shipped"))
        finally:
            os.kill(broker.pid, signal.SIGCONT)
        for status, body in answers:
            assert (status, body["error"]) == (503, "kafka_unavailable")
            assert f"order {order_id} did not complete within 1 s" in body["message"]
