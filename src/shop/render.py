"""JSON answers: orders as the API shows them, money written exactly (never through float)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from aiohttp import web

from shop.order import Order, OrderItem, OrderStatus

# msgspec writes a Decimal as a number with its own digits (693.50), never through float.
_ENCODER = msgspec.json.Encoder(decimal_format="number")
_SURROGATE = re.compile("[\ud800-\udfff]")


def encode(data: Any) -> bytes:
    """``data`` as UTF-8 JSON on one line, with a space after each ``:`` and ``,`` (as the API
    has always written it) and money as numbers."""
    try:
        compact = _ENCODER.encode(data)
    except UnicodeEncodeError:
        # Request text quoted in an error can hold a lone surrogate (a JSON escape such as
        # "\\ud800"), which is no Unicode character and cannot be UTF-8.
        compact = _ENCODER.encode(_unicode(data))
    return msgspec.json.format(compact, indent=0)


def dumps(data: Any) -> str:
    return encode(data).decode("utf-8")


def json_response(data: Mapping[str, Any] | msgspec.Struct, status: int = 200) -> web.Response:
    # A body that ends with a newline leaves the shell prompt on its own line after curl.
    return web.Response(
        body=encode(data) + b"\n", status=status, content_type="application/json", charset="utf-8"
    )


def _unicode(data: Any) -> Any:
    """``data`` with U+FFFD for each lone surrogate of its texts."""
    if isinstance(data, str):
        return _SURROGATE.sub("\ufffd", data)
    if isinstance(data, msgspec.Struct):  # by its encoded names, its amounts kept exact
        return _unicode(msgspec.to_builtins(data, builtin_types=(Decimal,)))
    if isinstance(data, Mapping):
        return {_unicode(key): _unicode(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_unicode(item) for item in data]
    return data


def timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``: 2026-11-24T22:00:00.123Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class OrderAnswer(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    """An order as the API shows it: these fields in this order, named in camelCase, its items
    as :class:`~shop.order.OrderItem` encodes them (named so too). Encoded as it is, with no dict
    built per answer."""

    order_id: str
    customer_id: str
    order_date: str
    items: tuple[OrderItem, ...]
    total_amount: Decimal
    currency: str
    status: OrderStatus


class OrderDetailsAnswer(OrderAnswer, frozen=True, gc=False):
    """An order with the shipping cost the view computed."""

    shipping_cost: Decimal


def order_json(order: Order) -> OrderAnswer:
    return OrderAnswer(
        order.order_id,
        order.customer_id,
        timestamp(order.order_date),
        order.items,
        order.total_amount,
        order.currency,
        order.status,
    )


def order_details_json(order: Order) -> OrderDetailsAnswer:
    shown = msgspec.structs.asdict(order_json(order))
    return OrderDetailsAnswer(**shown, shipping_cost=order.shipping_cost)
