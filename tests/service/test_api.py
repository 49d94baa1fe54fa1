"""Every endpoint of both ports, with each status code, on the real broker and registry."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from shop.main import RunningService
from tests.service.helpers import answer, create
from tests.waiting import unique

ORDER_KEYS = {"orderId", "customerId", "orderDate", "items", "totalAmount", "currency", "status"}


async def test_create_order_answers_201_with_the_generated_order(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """POST /create-order answers 201 with a complete order whose total is its items' sum."""
    order_id = unique("ORDER")
    async with http.post(
        f"{service.cart_url}/create-order", json={"orderId": order_id, "itemsCount": 4}
    ) as response:
        raw = await response.text()
        status, body = await answer(response)
    assert status == 201
    assert body["message"] == "Order created and published successfully."
    order = body["order"]
    assert set(order) == ORDER_KEYS
    assert order["orderId"] == order_id
    assert re.fullmatch(r"CUST-[A-Z0-9]{6}", order["customerId"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", order["orderDate"])
    assert (order["currency"], order["status"]) == ("USD", "new")
    assert len(order["items"]) == 4
    for item in order["items"]:
        assert set(item) == {"itemId", "name", "quantity", "unitPrice"}
        assert 1 <= item["quantity"] <= 5
    total = sum(item["quantity"] * item["unitPrice"] for item in order["items"])
    assert order["totalAmount"] == total
    assert re.search(r'"totalAmount": \d+\.\d\d[,}]', raw), raw


async def test_create_of_an_existing_order_is_409(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """A second create with the same orderId is refused with 409 and changes nothing."""
    order = await create(http, service.cart_url, unique("ORDER"))
    async with http.post(
        f"{service.cart_url}/create-order", json={"orderId": order["orderId"], "itemsCount": 1}
    ) as response:
        status, body = await answer(response)
    assert (status, body["error"]) == (409, "order_already_exists")
    async with http.get(
        f"{service.orders_url}/order-details", params={"orderId": order["orderId"]}
    ) as response:
        _, details = await answer(response)
    assert details["customerId"] == order["customerId"]


async def test_update_right_after_create_succeeds(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """An update sent right after its create is 200 and order-details shows it at once."""
    order = await create(http, service.cart_url, unique("ORDER"))
    async with http.put(
        f"{service.cart_url}/update-order",
        json={"orderId": order["orderId"], "status": "confirmed"},
    ) as response:
        status, body = await answer(response)
    assert status == 200
    assert body["message"] == "Order updated and published successfully."
    assert body["order"] == {**order, "status": "confirmed"}
    async with http.get(
        f"{service.orders_url}/order-details", params={"orderId": order["orderId"]}
    ) as response:
        status, details = await answer(response)
    assert (status, details["status"]) == (200, "confirmed")


async def test_update_of_an_unknown_order_is_404(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """PUT /update-order for an order that does not exist is 404."""
    async with http.put(
        f"{service.cart_url}/update-order", json={"orderId": unique("NOPE"), "status": "shipped"}
    ) as response:
        status, body = await answer(response)
    assert (status, body["error"]) == (404, "order_not_found")


async def test_final_status_is_locked_and_a_repeat_writes_no_event(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """Leaving cancelled is 409; setting the status an order has is 200 without a new version."""
    order_id = unique("ORDER")
    await create(http, service.cart_url, order_id)
    url = f"{service.cart_url}/update-order"
    async with http.put(url, json={"orderId": order_id, "status": "cancelled"}) as response:
        assert response.status == 200
    version = service.view.store.get(order_id)[1]  # type: ignore[arg-type, index]
    async with http.put(url, json={"orderId": order_id, "status": "cancelled"}) as response:
        status, body = await answer(response)
    assert (status, body["order"]["status"]) == (200, "cancelled")
    assert service.view.store.get(order_id)[1] == version  # type: ignore[arg-type, index]
    async with http.put(url, json={"orderId": order_id, "status": "new"}) as response:
        status, body = await answer(response)
    assert (status, body["error"]) == (409, "status_locked")


async def test_order_details_adds_shipping_rounded_half_up(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """GET /order-details is the order plus shippingCost, 2 % of the total rounded half-up."""
    order = await create(http, service.cart_url, unique("ORDER"), items=9)
    async with http.get(
        f"{service.orders_url}/order-details", params={"orderId": order["orderId"]}
    ) as response:
        status, details = await answer(response)
    assert status == 200
    assert details == {**order, "shippingCost": details["shippingCost"]}
    expected = (order["totalAmount"] * Decimal("0.02")).quantize(Decimal("0.01"), "ROUND_HALF_UP")
    assert details["shippingCost"] == expected


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ({"orderId": "NOPE-never-created"}, 404, "order_not_found"),
        ({}, 400, "invalid_request"),
        ({"orderId": ""}, 400, "invalid_request"),
        ({"orderId": "bad id!"}, 400, "invalid_request"),
    ],
)
async def test_order_details_errors(
    service: RunningService,
    http: aiohttp.ClientSession,
    query: dict[str, str],
    status: int,
    error: str,
) -> None:
    """order-details is 404 for an unknown order and 400 for a missing or malformed orderId."""
    async with http.get(f"{service.orders_url}/order-details", params=query) as response:
        got, body = await answer(response)
    assert (got, body["error"]) == (status, error)
    assert body["message"]
    if status == 400:
        assert "orderId" in body["fields"]


VALID = {"orderId": "ORDER-OK", "itemsCount": 2}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"itemsCount": 2}, "orderId"),
        ({"orderId": "ORDER-1"}, "itemsCount"),
        ({**VALID, "itemsCount": True}, "itemsCount"),
        ({**VALID, "itemsCount": 2.5}, "itemsCount"),
        ({**VALID, "itemsCount": "3"}, "itemsCount"),
        ({**VALID, "itemsCount": 0}, "itemsCount"),
        ({**VALID, "itemsCount": 101}, "itemsCount"),
        ({**VALID, "itemsCount": None}, "itemsCount"),
        ({**VALID, "orderId": 123}, "orderId"),
        ({**VALID, "orderId": "has space"}, "orderId"),
        ({**VALID, "orderId": "x" * 65}, "orderId"),
        ({**VALID, "price": 1}, "price"),
    ],
)
async def test_invalid_create_bodies_name_the_field(
    service: RunningService, http: aiohttp.ClientSession, body: dict[str, Any], field: str
) -> None:
    """An invalid create body is 400 with a message for the offending field."""
    async with http.post(f"{service.cart_url}/create-order", json=body) as response:
        status, answer_body = await answer(response)
    assert (status, answer_body["error"]) == (400, "invalid_request")
    assert set(answer_body["fields"]) == {field}
    assert field in answer_body["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"orderId": "ORDER-1"}, "status"),
        ({"orderId": "ORDER-1", "status": "lost"}, "status"),
        ({"orderId": "ORDER-1", "status": 1}, "status"),
        ({"status": "new"}, "orderId"),
        ({"orderId": "ORDER-1", "status": "new", "itemsCount": 3}, "itemsCount"),
    ],
)
async def test_invalid_update_bodies_name_the_field(
    service: RunningService, http: aiohttp.ClientSession, body: dict[str, Any], field: str
) -> None:
    """An invalid update body is 400 with a message for the offending field."""
    async with http.put(f"{service.cart_url}/update-order", json=body) as response:
        status, answer_body = await answer(response)
    assert (status, set(answer_body["fields"])) == (400, {field})


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"ORDER-1"', "application/json"),
        (b"", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"orderId=ORDER-1&itemsCount=2", "application/x-www-form-urlencoded"),
    ],
)
async def test_bodies_that_are_not_a_json_object_are_400(
    service: RunningService, http: aiohttp.ClientSession, data: bytes, content_type: str
) -> None:
    """Malformed JSON, a non-object body or a non-JSON content type is a JSON 400."""
    for method, path in (("POST", "/create-order"), ("PUT", "/update-order")):
        async with http.request(
            method, service.cart_url + path, data=data, headers={"Content-Type": content_type}
        ) as response:
            status, body = await answer(response)
        assert (status, body["error"]) == (400, "invalid_request")
        assert "JSON" in body["message"]


@pytest.mark.parametrize(
    ("port", "method", "path"),
    [
        ("orders", "POST", "/create-order"),
        ("orders", "PUT", "/update-order"),
        ("cart", "GET", "/order-details?orderId=ORDER-1"),
        ("cart", "GET", "/getAllOrderIdsFromTopic?topic=order-events"),
        ("cart", "GET", "/no-such-path"),
    ],
)
async def test_paths_of_one_port_are_404_on_the_other(
    service: RunningService, http: aiohttp.ClientSession, port: str, method: str, path: str
) -> None:
    """A cart path on the orders port, or the reverse, is a JSON 404."""
    base = service.cart_url if port == "cart" else service.orders_url
    async with http.request(method, base + path, json={}) as response:
        status, body = await answer(response)
    assert (status, body["error"]) == (404, "not_found")


async def test_wrong_method_is_405_json(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """GET on /create-order is a JSON 405 that names the allowed method."""
    async with http.get(f"{service.cart_url}/create-order") as response:
        status, body = await answer(response)
    assert (status, body["error"]) == (405, "method_not_allowed")
    assert "POST" in body["message"]


@pytest.mark.parametrize("port", ["cart", "orders"])
async def test_health_on_both_ports(
    service: RunningService, http: aiohttp.ClientSession, port: str
) -> None:
    """GET /health answers 200 healthy with Kafka and the registry connected on both ports."""
    base = service.cart_url if port == "cart" else service.orders_url
    async with http.get(f"{base}/health") as response:
        status, body = await answer(response)
    assert status == 200
    assert body["status"] == "healthy"
    assert body["kafka"] == "connected"
    assert body["schemaRegistry"] == "connected"
    assert body["orderView"]["caughtUp"] is True


async def test_concurrent_creates_of_one_id_make_one_order(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """Of many simultaneous creates with the same orderId exactly one is 201, the rest 409."""
    order_id = unique("ORDER")

    async def attempt() -> int:
        async with http.post(
            f"{service.cart_url}/create-order", json={"orderId": order_id, "itemsCount": 1}
        ) as response:
            return response.status

    statuses = await asyncio.gather(*(attempt() for _ in range(10)))
    assert sorted(statuses) == [201] + [409] * 9
    assert service.view.store.get(order_id)[1] == 1  # type: ignore[arg-type, index]
