"""Orders handlers: the view's order details and the order ids of a topic."""

from __future__ import annotations

from aiohttp import web

from shop.errors import InvalidRequest, OrderNotFound
from shop.kafka import read_topic_keys
from shop.order import OrderId, order_id_problem
from shop.render import json_response, order_details_json
from shop.typedefs import get_admin, get_bootstrap_servers, get_settings, get_store


def _query(request: web.Request, name: str) -> str:
    value = request.query.get(name)
    if value is None or not value:
        raise InvalidRequest(f"the query parameter {name} is required", {name: "is required"})
    return value


async def order_details(request: web.Request) -> web.Response:
    order_id = _query(request, "orderId")
    if (problem := order_id_problem(order_id)) is not None:
        raise InvalidRequest(f"orderId {problem}", {"orderId": problem})
    found = get_store(request.app).get(OrderId(order_id))
    if found is None:
        raise OrderNotFound(f"order {order_id} does not exist; check the orderId")
    order, _ = found
    return json_response(order_details_json(order))


async def order_ids_from_topic(request: web.Request) -> web.Response:
    topic = _query(request, "topic")
    partitions = await get_admin(request.app).partitions_of(topic)
    order_ids = await read_topic_keys(
        get_bootstrap_servers(request.app),
        topic,
        partitions,
        get_settings(request.app).request_timeout_s,
    )
    return json_response({"topic": topic, "orderIds": order_ids, "count": len(order_ids)})
