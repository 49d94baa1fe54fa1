"""The view's verdict on events read from the topic: the cart's rules, enforced on every event."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from msgspec.structs import replace

from shop import events
from shop.event_rules import Held, Verdict, judge
from shop.events import EventType, OrderEvent
from shop.order import Order, OrderId, OrderStatus
from tests.service.test_domain import new_order

NOW = datetime(2026, 11, 24, 22, 0, 0, tzinfo=UTC)
KEY = b"ORDER-1"


def created(order: Order | None = None) -> OrderEvent:
    return events.created(order or new_order(), NOW)


def test_the_carts_own_events_apply() -> None:
    """A create, then an update of the status alone, are applied."""
    first = created()
    assert judge(first, KEY, 0, None).verdict is Verdict.APPLY
    second = events.updated(first.order.with_status(OrderStatus.SHIPPED), 1, NOW)
    assert judge(second, KEY, 5, Held(first, 0)).verdict is Verdict.APPLY


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"total_amount": Decimal("-50.00")}, "not the sum"),
        ({"total_amount": Decimal("999.99")}, "not the sum"),
        ({"currency": "EUR"}, "not USD"),
        ({"order_id": OrderId("../etc")}, "key"),
        ({"items": ()}, "1 to 100 items"),
    ],
)
def test_orders_the_cart_could_not_have_built_are_rejected(
    change: dict[str, object], reason: str
) -> None:
    """Negative or wrong totals, foreign currencies, empty orders are rejected with a reason."""
    event = created(replace(new_order(), **change))  # type: ignore[arg-type]
    judgement = judge(event, KEY, 0, None)
    assert judgement.verdict is Verdict.REJECT
    assert reason in judgement.reason


def test_quantity_zero_is_rejected() -> None:
    """An item of quantity 0 is rejected even when the total adds up."""
    order = new_order()
    items = (replace(order.items[0], quantity=0), *order.items[1:])
    total = sum((item.amount for item in items), Decimal("0.00"))
    event = created(replace(order, items=items, total_amount=total))
    assert judge(event, KEY, 0, None).verdict is Verdict.REJECT


def test_the_key_must_be_the_order_id() -> None:
    """A record keyed P-KEYA carrying order P-VICTIM is rejected."""
    judgement = judge(created(), b"P-KEYA", 0, None)
    assert (judgement.verdict, "key" in judgement.reason) == (Verdict.REJECT, True)


def test_versions_beyond_the_log_are_rejected() -> None:
    """orderVersion 2^62 at offset 10 cannot be: it is rejected instead of taking the order."""
    first = created()
    forged = replace(
        events.updated(first.order.with_status(OrderStatus.CANCELLED), 1, NOW), order_version=2**62
    )
    assert judge(forged, KEY, 10, Held(first, 0)).verdict is Verdict.REJECT
    assert judge(replace(forged, order_version=11), KEY, 10, Held(first, 0)).verdict is (
        Verdict.APPLY
    )


def test_a_delivered_order_is_not_reopened() -> None:
    """delivered -> new from the topic is rejected, as the cart refuses it."""
    first = created()
    delivered = events.updated(first.order.with_status(OrderStatus.DELIVERED), 1, NOW)
    reopened = events.updated(first.order, 2, NOW)
    judgement = judge(reopened, KEY, 9, Held(delivered, 4))
    assert (judgement.verdict, "delivered" in judgement.reason) == (Verdict.REJECT, True)


def test_an_update_that_changes_more_than_the_status_is_rejected() -> None:
    """Only the status may change after creation."""
    first = created()
    other = events.updated(replace(first.order, customer_id="CUST-OTHER1"), 1, NOW)
    assert judge(other, KEY, 3, Held(first, 0)).verdict is Verdict.REJECT


def test_event_types_match_their_versions() -> None:
    """ORDER_CREATED is version 1 in status new; an update is never version 1."""
    first = created()
    assert judge(replace(first, order_version=2), KEY, 3, None).verdict is Verdict.REJECT
    update_one = replace(first, event_type=EventType.ORDER_UPDATED)
    assert judge(update_one, KEY, 3, None).verdict is Verdict.REJECT
    shipped = replace(first, order=first.order.with_status(OrderStatus.SHIPPED))
    assert judge(shipped, KEY, 3, None).verdict is Verdict.REJECT


def test_held_and_older_events_are_skipped_and_a_second_claim_to_a_version_is_a_conflict() -> None:
    """Replays skip; the same event twice skips; another event with the held version conflicts,
    and the reason says the first in the log counts."""
    first = created()
    confirmed = events.updated(first.order.with_status(OrderStatus.CONFIRMED), 1, NOW)
    shipped = events.updated(first.order.with_status(OrderStatus.SHIPPED), 1, NOW)
    held = Held(confirmed, 4)
    assert judge(first, KEY, 0, held).verdict is Verdict.SKIP
    assert judge(confirmed, KEY, 4, held).verdict is Verdict.SKIP
    assert judge(confirmed, KEY, 6, held).verdict is Verdict.SKIP
    second = judge(shipped, KEY, 6, held)
    assert second.verdict is Verdict.CONFLICT
    assert "the first in the log counts" in second.reason
