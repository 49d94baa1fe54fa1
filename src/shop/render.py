"""JSON answers: orders as the API shows them, money written exactly (never through float)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import simplejson
from aiohttp import web

from shop.order import Order

dumps = functools.partial(simplejson.dumps, use_decimal=True)


def _dumps_line(data: Any) -> str:
    # A body that ends with a newline leaves the shell prompt on its own line after curl.
    return dumps(data) + "\n"


def json_response(data: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps_line)


def timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``: 2026-11-24T22:00:00.123Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def order_json(order: Order) -> dict[str, Any]:
    return {
        "orderId": order.order_id,
        "customerId": order.customer_id,
        "orderDate": timestamp(order.order_date),
        "items": [
            {
                "itemId": item.item_id,
                "name": item.name,
                "quantity": item.quantity,
                "unitPrice": item.unit_price,
            }
            for item in order.items
        ],
        "totalAmount": order.total_amount,
        "currency": order.currency,
        "status": order.status.value,
    }


def order_details_json(order: Order) -> dict[str, Any]:
    return {**order_json(order), "shippingCost": order.shipping_cost}
