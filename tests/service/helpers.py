"""Small helpers of the service tests."""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp
import simplejson

from shop.settings import Settings
from tests.waiting import unique


def fresh(settings: Settings, **changes: Any) -> Settings:
    """``settings`` with a topic and consumer group no other test uses (plus ``changes``)."""
    return dataclasses.replace(
        settings, topic=unique("order-events"), consumer_group=unique("shop-orders"), **changes
    )


async def answer(response: aiohttp.ClientResponse) -> tuple[int, Any]:
    """Status and JSON body, numbers read as Decimal so money is compared exactly."""
    assert response.content_type == "application/json", await response.text()
    return response.status, simplejson.loads(await response.text(), use_decimal=True)


async def create(http: aiohttp.ClientSession, cart_url: str, order_id: str, items: int = 3) -> Any:
    async with http.post(
        f"{cart_url}/create-order", json={"orderId": order_id, "itemsCount": items}
    ) as response:
        status, body = await answer(response)
    assert status == 201, body
    return body["order"]
