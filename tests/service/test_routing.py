"""Two instances in one consumer group, in this process: a request reaches the owner of its
order's partition wherever it arrives, through one hop at most."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

import aiohttp

from shop.main import RunningService, running_service
from shop.partitioning import partition_of
from shop.routing import FORWARDED_BY
from shop.settings import Settings
from tests.brokers import free_port
from tests.service.helpers import answer, fresh
from tests.waiting import unique, wait_until

PARTITIONS = 4


@contextlib.asynccontextmanager
async def two_instances(
    settings: Settings, **second: str
) -> AsyncIterator[tuple[RunningService, RunningService]]:
    """Two services in one group on one topic, once each owns half of the partitions."""
    settings = fresh(settings, topic_partitions=PARTITIONS)
    async with (
        running_service(settings) as a,
        running_service(dataclasses.replace(settings, **second)) as b,
    ):

        async def split() -> bool:
            owned = [a.ownership.owned(), b.ownership.owned()]
            stable = a.ownership.stable and b.ownership.stable
            return stable and sorted(owned[0] + owned[1]) == list(range(PARTITIONS)) and all(owned)

        await wait_until(split, timeout=60, what="the group to split the partitions")
        yield a, b


def owned_by(service: RunningService) -> str:
    """An order id whose partition ``service`` owns."""
    while True:
        order_id = unique("ORDER")
        if partition_of(order_id.encode(), PARTITIONS) in service.ownership.owned():
            return order_id


async def test_requests_reach_the_owner_wherever_they_arrive(
    service_settings: Settings, http: aiohttp.ClientSession
) -> None:
    """Create, update and order-details of an order B owns, sent to A, are B's answers: the
    status, the body, the client's X-Request-ID; and A's view never holds B's orders."""
    async with two_instances(service_settings) as (a, b):
        order_id = owned_by(b)
        headers = {"X-Request-ID": "route-1"}
        body = {"orderId": order_id, "itemsCount": 2}
        async with http.post(f"{a.cart_url}/create-order", json=body, headers=headers) as r:
            status, created = await answer(r)
            assert (status, r.headers["X-Request-ID"]) == (201, "route-1")
        async with http.post(f"{a.cart_url}/create-order", json=body) as r:
            assert (await answer(r))[1]["error"] == "order_already_exists"
        update = {"orderId": order_id, "status": "shipped"}
        async with http.put(f"{a.cart_url}/update-order", json=update) as r:
            status, updated = await answer(r)
            assert (status, updated["order"]["status"]) == (200, "shipped")
        for base in (a.orders_url, b.orders_url):
            async with http.get(f"{base}/order-details", params={"orderId": order_id}) as r:
                status, details = await answer(r)
            assert (status, details["status"], details["items"]) == (
                200,
                "shipped",
                created["order"]["items"],
            )
        assert a.view.store.get(order_id) is None  # type: ignore[arg-type]
        assert b.view.store.get(order_id) is not None  # type: ignore[arg-type]
        async with http.get(f"{a.orders_url}/order-details", params={"orderId": owned_by(b)}) as r:
            assert (await answer(r))[:1] == (404,)


async def test_a_forwarded_request_is_never_forwarded_again(
    service_settings: Settings, http: aiohttp.ClientSession
) -> None:
    """A request already forwarded once that reaches an instance which does not own its order
    (the tables disagree during a rebalance) is a 503 with Retry-After, not a second hop."""
    async with two_instances(service_settings) as (a, b):
        headers = {FORWARDED_BY: b.cart_url}
        params = {"orderId": owned_by(b)}
        async with http.get(f"{a.orders_url}/order-details", params=params, headers=headers) as r:
            status, body = await answer(r)
            assert (status, body["error"], r.headers["Retry-After"]) == (503, "rebalancing", "1")


async def test_an_owner_that_does_not_answer_is_a_503_with_retry_after(
    service_settings: Settings, http: aiohttp.ClientSession
) -> None:
    """When the owner's advertised URL does not answer, the instance a request reached says so:
    503 with Retry-After, and nothing is written."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with two_instances(service_settings, advertised_cart_url=nowhere) as (a, b):
        order_id = owned_by(b)
        body = {"orderId": order_id, "itemsCount": 1}
        async with http.post(f"{a.cart_url}/create-order", json=body) as r:
            status, answered = await answer(r)
            assert (status, answered["error"], r.headers["Retry-After"]) == (
                503,
                "unavailable",
                "1",
            )
        assert nowhere in answered["message"]
        async with http.get(f"{b.orders_url}/order-details", params={"orderId": order_id}) as r:
            assert r.status == 404
