"""Orders handlers: the view's order details and the order ids of a topic."""

from __future__ import annotations

from aiohttp import web

from shop.errors import InvalidRequest, OrderNotFound
from shop.kafka import TOPIC_RULE
from shop.order import OrderId, order_id_problem, valid_order_id
from shop.orders.keys import get_store, get_topic_reader
from shop.render import json_response, order_details_json
from shop.routing import ROUTER, Api
from shop.settings import TOPIC_NAME


def _query(request: web.Request, name: str) -> str:
    """The one value of a query parameter; absent, empty or repeated (ambiguous) is 400."""
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise InvalidRequest(
            f"the query parameter {name} is given {len(values)} times; give it once",
            {name: "is given more than once"},
        )
    if not values or not values[0]:
        raise InvalidRequest(f"the query parameter {name} is required", {name: "is required"})
    return values[0]


async def order_details(request: web.Request) -> web.Response:
    order_id = _query(request, "orderId")
    if (problem := order_id_problem(order_id)) is not None:
        raise InvalidRequest(f"orderId {problem}", {"orderId": problem})
    if (owners := await request.app[ROUTER].route(request, order_id, Api.ORDERS)) is not None:
        return owners
    found = get_store(request.app).get(OrderId(order_id))
    if found is None:
        raise OrderNotFound(f"order {order_id} does not exist; check the orderId")
    order, _ = found
    return json_response(order_details_json(order))


async def order_ids_from_topic(request: web.Request) -> web.Response:
    """The order ids of an allowed topic: 400 malformed name, 403 not allowed, 429 too many
    scans at once; a scan cut short by a bound is a 200 with ``partial`` and the bound."""
    topic = _query(request, "topic")
    if not TOPIC_NAME.fullmatch(topic) or topic in (".", ".."):
        raise InvalidRequest(f"topic {TOPIC_RULE}", {"topic": TOPIC_RULE})
    found = await get_topic_reader(request.app).keys(topic)
    # A key no order can have (the registry's JSON keys of _schemas, say) is not an order id.
    order_ids = [key for key in found.keys if valid_order_id(key)]
    return json_response(
        {
            "topic": topic,
            "orderIds": order_ids,
            "count": len(order_ids),
            "partial": found.partial is not None,
            "partialReason": found.partial,
        }
    )
