"""Orders: what one is, how a new one is generated, and which status changes are allowed."""

from __future__ import annotations

import random
import re
import string
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import NewType

import msgspec

from shop import money
from shop.errors import StatusLocked

OrderId = NewType("OrderId", str)

ORDER_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ORDER_ID_RULE = "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
MIN_ITEMS = 1
MAX_ITEMS = 100
MAX_QUANTITY = 5
CURRENCY = "USD"


class OrderStatus(StrEnum):
    NEW = "new"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (OrderStatus.DELIVERED, OrderStatus.CANCELLED)


STATUS_RULE = "must be one of " + ", ".join(status.value for status in OrderStatus)


class OrderItem(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    """One line of an order. Encoded with the API's names (itemId, unitPrice): answers carry the
    items as they are (shop.render)."""

    item_id: str
    name: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


class Order(msgspec.Struct, frozen=True, gc=False):
    order_id: OrderId
    customer_id: str
    order_date: datetime
    items: tuple[OrderItem, ...]
    total_amount: Decimal
    currency: str
    status: OrderStatus

    @property
    def shipping_cost(self) -> Decimal:
        return money.shipping_cost(self.total_amount)

    def with_status(self, status: OrderStatus) -> Order:
        """This order in ``status``; an order that was delivered or cancelled stays so."""
        if self.status.terminal and status != self.status:
            raise StatusLocked(
                f"order {self.order_id} is {self.status} and can no longer change status"
            )
        return msgspec.structs.replace(self, status=status)


def valid_order_id(value: str) -> bool:
    return ORDER_ID_PATTERN.fullmatch(value) is not None


def order_id_problem(value: object) -> str | None:
    """Why ``value`` is not an order id, or None when it is one."""
    if not isinstance(value, str):
        return "must be a string"
    return None if valid_order_id(value) else ORDER_ID_RULE


# A small catalogue: (name, lowest price in cents, highest price in cents).
CATALOGUE: tuple[tuple[str, int, int], ...] = (
    ("Wireless Mouse", 1499, 4999),
    ("Mechanical Keyboard", 4999, 19999),
    ("USB-C Cable", 100, 1999),
    ("Laptop Stand", 2499, 8999),
    ("Noise-Cancelling Headphones", 7999, 19999),
    ("Webcam", 2999, 12999),
    ("Desk Lamp", 1999, 6999),
    ("Notebook", 100, 1499),
    ("Water Bottle", 999, 3999),
    ("Backpack", 3999, 14999),
)

_ID_ALPHABET = string.ascii_uppercase + string.digits
# Every pair of id characters, so that one draw below 36**2 gives two (``choices`` costs 0.15 µs a
# character).
_ID_PAIRS = tuple(first + second for first in _ID_ALPHABET for second in _ID_ALPHABET)
# Random bits per item (product, quantity, price, 4 id characters: about 2**41 outcomes) and for
# the customer (6 characters: about 2**31): each taken modulo numbers whose product is at most
# 2**41, so the skew is under 2**-40.
_ITEM_BITS = 96
_ITEM_MASK = (1 << _ITEM_BITS) - 1
_CUSTOMER_BITS = 96


def build_order(order_id: OrderId, items_count: int, now: datetime, rng: random.Random) -> Order:
    """A new order with ``items_count`` generated items, placed at ``now`` (UTC)."""
    if not MIN_ITEMS <= items_count <= MAX_ITEMS:
        raise ValueError(f"items_count must be from {MIN_ITEMS} to {MAX_ITEMS}")
    if now.tzinfo is not UTC and now.utcoffset() != timedelta(0):
        raise ValueError("now must be an aware UTC datetime")
    # One draw for the whole order (randrange costs 1.3 µs a call).
    draws = rng.getrandbits(_ITEM_BITS * items_count + _CUSTOMER_BITS)
    pairs = len(_ID_PAIRS)
    items = []
    total_cents = 0
    for number in range(1, items_count + 1):
        draw = draws & _ITEM_MASK
        draws >>= _ITEM_BITS
        draw, product = divmod(draw, len(CATALOGUE))
        name, low, high = CATALOGUE[product]
        draw, quantity = divmod(draw, MAX_QUANTITY)
        quantity += 1
        draw, first = divmod(draw, pairs)
        draw, second = divmod(draw, pairs)
        # Whole cents while building; an amount only once, exact (never through float).
        cents = low + draw % (high - low + 1)
        total_cents += cents * quantity
        items.append(
            OrderItem(
                f"ITEM-{number:03d}-{_ID_PAIRS[first]}{_ID_PAIRS[second]}",
                name,
                quantity,
                money.from_cents(cents),
            )
        )
    draws, first = divmod(draws, pairs)
    draws, second = divmod(draws, pairs)
    return Order(
        order_id=order_id,
        customer_id=f"CUST-{_ID_PAIRS[first]}{_ID_PAIRS[second]}{_ID_PAIRS[draws % pairs]}",
        order_date=whole_millis(now),
        items=tuple(items),
        total_amount=money.from_cents(total_cents),
        currency=CURRENCY,
        status=OrderStatus.NEW,
    )


def whole_millis(moment: datetime) -> datetime:
    """``moment`` to the millisecond: events keep no more (timestamp-millis), so what the API
    answers and the cart holds is what a replay decodes."""
    if moment.microsecond % 1000 == 0:  # the cart's clock gives whole milliseconds already
        return moment
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
