"""The OpenAPI 3.1 document of the cart port: what each write accepts and every answer it gives."""

from __future__ import annotations

from typing import Any

from shop.api_docs import (
    FORWARDED_BY,
    ROUTED_UNAVAILABLE,
    document,
    error,
    json_body,
    order_id,
    retry_after,
    schema_ref,
)
from shop.cart.requests import ITEMS_COUNT_RULE, MAX_LISTED_FIELDS
from shop.order import MAX_ITEMS, MIN_ITEMS, STATUS_RULE

TAG = "cart"
# How strictly a write's body is read (cart/requests.py), for both writes.
BODY_RULES = (
    "Send `Content-Type: application/json` (or another `application/*+json` type). The body is "
    "one JSON object with exactly the fields below: an unknown or missing field, a key given "
    "twice, NaN or Infinity, a number where a string is due (or 2.0 where a whole number is) is "
    f"a 400 whose `fields` names each problem (the first {MAX_LISTED_FIELDS} by name, the rest "
    "counted in `message`). At most 1 MiB."
)


def _written(message: str, description: str) -> dict[str, Any]:
    return json_body(
        {
            "type": "object",
            "required": ["message", "order"],
            "additionalProperties": False,
            "properties": {"message": {"const": message}, "order": schema_ref("Order")},
        },
        description,
    )


def _body(schema_name: str) -> dict[str, Any]:
    return {
        "required": True,
        "description": BODY_RULES,
        "content": {"application/json": {"schema": schema_ref(schema_name)}},
    }


def _write_errors() -> dict[str, Any]:
    """What both writes answer when the request or Kafka is not as needed."""
    return {
        "400": error(
            "The body is not a JSON object with exactly the fields required, or a field is "
            "invalid, or it cannot be read as sent (a Content-Encoding it is not in).",
            "invalid_request",
        ),
        "413": error("The body is larger than 1 MiB.", "request_too_large"),
        "415": error(
            "The request declares no Content-Type, or application/octet-stream.",
            "unsupported_media_type",
        ),
        "503": error(
            "kafka_unavailable: Kafka is unreachable or did not acknowledge the event in time, "
            "or the producer is being replaced after a broker failure. An event not acknowledged "
            "may still land: the next write of the order waits for its outcome. Try again "
            "later. " + ROUTED_UNAVAILABLE,
            "kafka_unavailable",
            "rebalancing",
            "unavailable",
            headers={"Retry-After": retry_after(required=False)},
        ),
    }


SCHEMAS = {
    "CreateOrder": {
        "type": "object",
        "required": ["orderId", "itemsCount"],
        "additionalProperties": False,
        "properties": {
            "orderId": order_id("the new order's id, unique"),
            "itemsCount": {
                "type": "integer",
                "minimum": MIN_ITEMS,
                "maximum": MAX_ITEMS,
                "description": f"how many items the cart generates; {ITEMS_COUNT_RULE}",
                "examples": [3],
            },
        },
    },
    "UpdateOrder": {
        "type": "object",
        "required": ["orderId", "status"],
        "additionalProperties": False,
        "properties": {
            "orderId": order_id("the order to change"),
            "status": {**schema_ref("OrderStatus"), "description": STATUS_RULE},
        },
    },
}

DOCUMENT = document(
    title="shop: cart API",
    description="Creates and updates orders. Each change is an `OrderEvent` (Avro) published "
    "to Kafka and acknowledged by the broker before the answer, so the orders API shows it at "
    "once.",
    tag={"name": TAG, "description": "Create and update orders"},
    schemas=SCHEMAS,
    paths={
        "/create-order": {
            "post": {
                "operationId": "createOrder",
                "tags": [TAG],
                "summary": "Create an order of generated items",
                "description": "The cart generates the customer and `itemsCount` items, and "
                "publishes an ORDER_CREATED event (version 1).",
                "parameters": [FORWARDED_BY],
                "requestBody": _body("CreateOrder"),
                "responses": {
                    "201": _written(
                        "Order created and published successfully.",
                        "Created: the event is on the broker and the order in the view.",
                    ),
                    **_write_errors(),
                    "409": error("An order with this orderId exists.", "order_already_exists"),
                },
            }
        },
        "/update-order": {
            "put": {
                "operationId": "updateOrder",
                "tags": [TAG],
                "summary": "Change an order's status",
                "description": "Publishes an ORDER_UPDATED event with the next version; setting "
                "the status the order has is a 200 that publishes nothing. An order delivered "
                "or cancelled keeps its status.",
                "parameters": [FORWARDED_BY],
                "requestBody": _body("UpdateOrder"),
                "responses": {
                    "200": _written(
                        "Order updated and published successfully.",
                        "Updated (or already in that status): the order as it is now.",
                    ),
                    **_write_errors(),
                    "404": error("No order has this orderId.", "order_not_found"),
                    "409": error(
                        "The order is delivered or cancelled and cannot change status.",
                        "status_locked",
                    ),
                },
            }
        },
    },
)
