"""Concurrent writers of one order, checked on the topic: versions 1..N, no gap, no duplicate."""

from __future__ import annotations

import asyncio
import itertools

import aiohttp

from shop.events import OrderEvent
from shop.main import RunningService
from tests.service.helpers import create, events_of, put_status
from tests.waiting import unique


async def test_concurrent_updates_of_one_order_make_consecutive_versions(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """50 simultaneous updates: the topic has versions 1..N in order and the view is the last."""
    order_id = unique("ORDER")
    await create(http, service.cart_url, order_id)
    statuses = list(itertools.islice(itertools.cycle(["confirmed", "new", "shipped"]), 50))
    codes = await asyncio.gather(
        *(put_status(http, service.cart_url, order_id, s) for s in statuses)
    )
    assert set(codes) == {200}
    settings = service.settings
    found = await events_of(
        service.broker, settings.topic, settings.topic_partitions, service.codec, order_id
    )
    assert all(isinstance(event, OrderEvent) for event in found)
    versions = [event.order_version for event in found]
    assert versions == list(range(1, len(found) + 1))
    assert len({event.event_id for event in found}) == len(found)
    for before, after in itertools.pairwise(found):
        assert before.order.status != after.order.status  # a repeat writes no event
    view = service.view.store.get(order_id)  # type: ignore[arg-type]
    assert view == (found[-1].order, found[-1].order_version)


async def test_create_and_update_racing_on_a_new_id(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """A create racing updates of the same new id: one 201, each update 404 or 200, no gap."""
    order_id = unique("ORDER")

    async def create_once() -> int:
        async with http.post(
            f"{service.cart_url}/create-order", json={"orderId": order_id, "itemsCount": 2}
        ) as response:
            return response.status

    updates = [put_status(http, service.cart_url, order_id, s) for s in ["confirmed", "new"] * 5]
    codes = await asyncio.gather(create_once(), create_once(), *updates)
    assert sorted(codes[:2]) == [201, 409]
    assert set(codes[2:]) <= {200, 404}
    settings = service.settings
    found = await events_of(
        service.broker, settings.topic, settings.topic_partitions, service.codec, order_id
    )
    assert [event.order_version for event in found] == list(range(1, len(found) + 1))
    assert found[0].event_type == "ORDER_CREATED"
    assert service.view.store.get(order_id) == (found[-1].order, len(found))  # type: ignore[arg-type]
