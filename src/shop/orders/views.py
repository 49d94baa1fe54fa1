"""Orders handlers: the view's order details and the order ids of a topic."""

from __future__ import annotations

from aiohttp import web

from shop.errors import InvalidRequest, OrderNotFound, TopicNotAllowed, echo
from shop.kafka import TOPIC_RULE
from shop.order import OrderId, order_id_problem, valid_order_id
from shop.render import json_response, order_details_json
from shop.settings import TOPIC_NAME
from shop.topic_scan import read_topic_keys
from shop.typedefs import get_admin, get_bootstrap_servers, get_scan_slots, get_settings, get_store

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
    settings = get_settings(request.app)
    allowed = sorted(settings.scannable_topics)
    # Refused whether it exists or not: the answer tells nothing about the cluster's other topics.
    if topic not in allowed:
        raise TopicNotAllowed(
            f"topic {echo(topic)} may not be read here; the topics this service may read are: "
            + ", ".join(allowed)
        )
    with get_scan_slots(request.app).taken():
        partitions = await get_admin(request.app).partitions_of(topic)
        found = await read_topic_keys(
            get_bootstrap_servers(request.app),
            topic,
            partitions,
            max_records=settings.scan_max_records,
            timeout_s=settings.request_timeout_s,
        )
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
