"""The OpenAPI 3.1 document of the orders port: the view's orders and the order ids of a topic."""

from __future__ import annotations

from typing import Any

from shop.api_docs import (
    FORWARDED_BY,
    ORDER_PROPERTIES,
    ROUTED_UNAVAILABLE,
    document,
    error,
    json_body,
    order_id,
    retry_after,
    schema_ref,
)
from shop.kafka import TOPIC_RULE
from shop.settings import TOPIC_NAME
from shop.topic_scan import PartialReason

TAG = "orders"
ONCE = "Give it exactly once: absent, empty or repeated is a 400."


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": True,
        "description": f"{description}. {ONCE}",
        "schema": schema,
    }


SCHEMAS = {
    "OrderDetails": {
        "type": "object",
        "required": [*ORDER_PROPERTIES, "shippingCost"],
        "additionalProperties": False,
        "properties": {
            **ORDER_PROPERTIES,
            "shippingCost": {
                "type": "number",
                "minimum": 0,
                "description": "2 % of totalAmount rounded half-up to cents, written exactly",
                "examples": [3.01],
            },
        },
    },
    "TopicOrderIds": {
        "type": "object",
        "required": ["topic", "orderIds", "count", "partial", "partialReason"],
        "additionalProperties": False,
        "properties": {
            "topic": {"type": "string"},
            "orderIds": {
                "type": "array",
                "uniqueItems": True,
                "description": "the distinct record keys that are order ids, sorted",
                "items": order_id("a key of the topic"),
            },
            "count": {"type": "integer", "minimum": 0, "description": "how many orderIds"},
            "partial": {
                "type": "boolean",
                "description": "true when a bound stopped the scan before the topic's end",
            },
            "partialReason": {
                "enum": [*(reason.value for reason in PartialReason), None],
                "description": "the bound that stopped the scan (SHOP_SCAN_MAX_RECORDS records "
                "or the request timeout), null when it read the topic to its end",
            },
        },
    },
}

DOCUMENT = document(
    title="shop: orders API",
    description="Reads orders from the view the service keeps of its Kafka topic, and the order "
    "ids of the topics it may scan.",
    tag={"name": TAG, "description": "Read orders"},
    schemas=SCHEMAS,
    paths={
        "/order-details": {
            "get": {
                "operationId": "getOrderDetails",
                "tags": [TAG],
                "summary": "An order with its shipping cost",
                "parameters": [
                    _query("orderId", order_id("the order"), "The order to show"),
                    FORWARDED_BY,
                ],
                "responses": {
                    "200": json_body(schema_ref("OrderDetails"), "The order as the view holds it."),
                    "400": error(
                        "orderId is absent, empty, given more than once or not an order id.",
                        "invalid_request",
                    ),
                    "404": error("No order has this orderId.", "order_not_found"),
                    "503": error(
                        ROUTED_UNAVAILABLE,
                        "rebalancing",
                        "unavailable",
                        headers={"Retry-After": retry_after(required=True)},
                    ),
                },
            }
        },
        "/getAllOrderIdsFromTopic": {
            "get": {
                "operationId": "getAllOrderIdsFromTopic",
                "tags": [TAG],
                "summary": "The distinct order ids among a topic's record keys",
                "description": "Reads the topic from its beginning to its end at the time of the "
                "call, within SHOP_SCAN_MAX_RECORDS records and the request timeout (a scan cut "
                "short is a 200 with partial). Only the topics in SHOP_SCAN_TOPICS (by default "
                "the order topic) may be read, and SHOP_SCAN_CONCURRENCY scans at once.",
                "parameters": [
                    _query(
                        "topic",
                        {
                            "type": "string",
                            "pattern": f"^{TOPIC_NAME.pattern}$",
                            "not": {"enum": [".", ".."]},
                            "description": TOPIC_RULE,
                            "examples": ["order-events"],
                        },
                        "The topic to read",
                    )
                ],
                "responses": {
                    "200": json_body(schema_ref("TopicOrderIds"), "The order ids of the topic."),
                    "400": error(
                        "topic is absent, empty, given more than once or not a name Kafka "
                        "allows, or it is one of Kafka's internal topics (which hold no orders).",
                        "invalid_request",
                    ),
                    "403": error(
                        "The topic is not one this service may read (whether it exists or not).",
                        "topic_not_allowed",
                    ),
                    "404": error("The topic may be read but does not exist.", "topic_not_found"),
                    "429": error(
                        "As many scans as allowed are running; retry after Retry-After seconds.",
                        "too_many_scans",
                        headers={"Retry-After": retry_after(required=True)},
                    ),
                    "503": error(
                        "Kafka is unreachable or refused the scan, or did not answer in time; "
                        "try again later.",
                        "kafka_unavailable",
                    ),
                },
            }
        },
    },
)
