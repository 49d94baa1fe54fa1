"""Order events: what the service writes to the topic, as typed values, and read from decoded
Avro records (``event_avro`` writes them)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from shop.ids import random_uuid
from shop.order import Order, OrderId, OrderItem, OrderStatus, whole_millis


class EventType(StrEnum):
    ORDER_CREATED = "ORDER_CREATED"
    ORDER_UPDATED = "ORDER_UPDATED"


class OrderEvent(msgspec.Struct, frozen=True, gc=False):
    event_id: str
    event_type: EventType
    order_version: int
    event_time: datetime
    order: Order

    @property
    def order_id(self) -> OrderId:
        return self.order.order_id


def created(order: Order, now: datetime) -> OrderEvent:
    """The first event of ``order``: version 1."""
    return OrderEvent(random_uuid(), EventType.ORDER_CREATED, 1, whole_millis(now), order)


def updated(order: Order, previous_version: int, now: datetime) -> OrderEvent:
    """The event that follows version ``previous_version`` of the same order."""
    return OrderEvent(
        random_uuid(), EventType.ORDER_UPDATED, previous_version + 1, whole_millis(now), order
    )


def from_record(record: Mapping[str, Any]) -> OrderEvent:
    """The event of a decoded Avro record; ``ValueError`` (or ``KeyError``) when it is not one."""
    order = record["order"]
    return OrderEvent(
        event_id=record["eventId"],
        event_type=EventType(record["eventType"]),
        order_version=int(record["orderVersion"]),
        event_time=record["eventTime"],
        order=Order(
            order_id=OrderId(order["orderId"]),
            customer_id=order["customerId"],
            order_date=order["orderDate"],
            items=tuple(
                OrderItem(
                    item_id=item["itemId"],
                    name=item["name"],
                    quantity=item["quantity"],
                    unit_price=item["unitPrice"],
                )
                for item in order["items"]
            ),
            total_amount=order["totalAmount"],
            currency=order["currency"],
            status=OrderStatus(order["status"]),
        ),
    )
