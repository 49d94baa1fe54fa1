"""What the order view accepts from its topic: the cart's rules, checked again on every event read.

Anyone who can write to the topic can put a record on it, so a decoded event is not trusted. An
event is judged against the record it came in (key and offset) and against what the view holds of
the order; the verdict is pure, with no Kafka or aiohttp in sight. The one exception: the
read-back of an event this instance is writing (its exact bytes) is not judged on its order again,
only on its key and place in the log (``judge``'s ``built_here``).
"""

from __future__ import annotations

import enum

import msgspec

from shop import money
from shop.events import EventType, OrderEvent
from shop.order import (
    CURRENCY,
    MAX_ITEMS,
    MAX_QUANTITY,
    MIN_ITEMS,
    Order,
    OrderStatus,
    valid_order_id,
)


class Verdict(enum.Enum):
    APPLY = "apply"
    # Already held, or older than what is held: nothing to do.
    SKIP = "skip"
    # Another event already claimed this version: the later one in the log wins, loudly.
    CONFLICT = "conflict"
    REJECT = "reject"


class Held(msgspec.Struct, frozen=True, gc=False):
    """What the view holds of one order: its latest event and that event's offset in the log."""

    event: OrderEvent
    offset: int


class Judgement(msgspec.Struct, frozen=True, gc=False):
    verdict: Verdict
    reason: str = ""


APPLY = Judgement(Verdict.APPLY)
SKIP = Judgement(Verdict.SKIP)


def _reject(reason: str) -> Judgement:
    return Judgement(Verdict.REJECT, reason)


def judge(
    event: OrderEvent,
    key: bytes | None,
    offset: int,
    held: Held | None,
    *,
    built_here: bool = False,
) -> Judgement:
    """Whether the view applies ``event``, read at ``offset`` under ``key``, given ``held``.

    ``built_here``: the record is the very event this instance's cart built (its bytes, eventId
    included, are the ones it sent), so its order is not checked again: the cart only builds
    orders that pass :func:`order_problem` (tested). Its key and place in the log still are.

    Versions: a record's version can be no larger than its offset + 1 (each earlier version is an
    earlier record of the same partition), which bounds a forged one without any fixed limit. A
    version above the one held need not be the very next: compaction may have removed the ones
    between from a log the view is still reading.
    """
    if key != event.order_id.encode("utf-8"):
        shown = key.decode("utf-8", errors="replace")[:64] if key is not None else "no key"
        return _reject(f"the record key ({shown}) is not the event's orderId")
    if not built_here and (problem := order_problem(event.order)) is not None:
        return _reject(problem)
    version = event.order_version
    if not 1 <= version <= offset + 1:
        return _reject(f"orderVersion {version} is impossible at offset {offset}")
    if (event.event_type == EventType.ORDER_CREATED) != (version == 1):
        return _reject(f"a {event.event_type} event cannot have orderVersion {version}")
    if version == 1 and event.order.status != OrderStatus.NEW:
        return _reject(f"an order is created with status new, not {event.order.status}")
    if held is None:
        return APPLY
    current = held.event
    if version < current.order_version:
        return SKIP
    if version == current.order_version:
        if event.event_id == current.event_id:
            return SKIP  # the same event written twice (a producer retry without idempotence)
        return Judgement(
            Verdict.CONFLICT,
            f"orderVersion {version} of order {event.order_id} is claimed by event "
            f"{event.event_id} at offset {offset} and by {current.event_id} at offset "
            f"{held.offset}; the first in the log counts",
        )
    if offset <= held.offset:
        return SKIP
    return _follows(event.order, current.order)


def order_problem(order: Order) -> str | None:
    """Why ``order`` could not have come from the cart, or None."""
    if not valid_order_id(order.order_id):
        return "the orderId is not a valid order id"
    if not valid_order_id(order.customer_id):
        return "the customerId is not a valid id"
    if not MIN_ITEMS <= len(order.items) <= MAX_ITEMS:
        return f"an order has {MIN_ITEMS} to {MAX_ITEMS} items, not {len(order.items)}"
    for item in order.items:
        if not 1 <= item.quantity <= MAX_QUANTITY:
            return f"item {item.item_id[:64]} has quantity {item.quantity}, not 1 to {MAX_QUANTITY}"
        if item.unit_price <= 0 or money.to_cents(item.unit_price) != item.unit_price:
            return (
                f"item {item.item_id[:64]} has unit price {item.unit_price}, not a positive amount"
            )
    if order.total_amount != money.total(item.amount for item in order.items):
        return f"totalAmount {order.total_amount} is not the sum of the items"
    if order.currency != CURRENCY:
        return f"currency {order.currency[:16]} is not {CURRENCY}"
    return None


def _follows(changed: Order, current: Order) -> Judgement:
    """An update may change the status alone, and never out of delivered or cancelled."""
    if msgspec.structs.replace(changed, status=current.status) != current:
        return _reject(f"an update of order {current.order_id} changes more than its status")
    if current.status.terminal and changed.status != current.status:
        return _reject(
            f"order {current.order_id} is {current.status} and cannot become {changed.status}"
        )
    return APPLY
