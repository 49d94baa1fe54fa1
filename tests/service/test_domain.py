"""Pure rules of orders, money, events and the view: no broker, no registry."""

from __future__ import annotations

import asyncio
import io
import random
import re
import string
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import fastavro
import pytest
from msgspec.structs import replace

from shop import event_avro, events, money, render
from shop.cart.writer import utc_now
from shop.codec import order_event_schema
from shop.errors import StatusLocked
from shop.event_rules import order_problem
from shop.order import (
    MAX_ITEMS,
    MIN_ITEMS,
    Order,
    OrderId,
    OrderStatus,
    build_order,
    valid_order_id,
)
from shop.store import OrderStore
from tests.service.helpers import to_record

ALPHABET = string.ascii_uppercase + string.digits
NOW = datetime(2026, 11, 24, 22, 0, 0, 123456, tzinfo=UTC)


def new_order(order_id: str = "ORDER-1", items: int = 3, seed: int = 1) -> Order:
    return build_order(OrderId(order_id), items, NOW, random.Random(seed))


@pytest.mark.parametrize(
    ("total", "shipping"),
    [("150.50", "3.01"), ("0.25", "0.01"), ("0.24", "0.00"), ("100.00", "2.00"), ("12.75", "0.26")],
)
def test_shipping_is_two_percent_rounded_half_up(total: str, shipping: str) -> None:
    """Shipping is 2 % of the total, rounded half-up to cents."""
    assert money.shipping_cost(Decimal(total)) == Decimal(shipping)
    assert str(money.shipping_cost(Decimal(total))) == shipping


def test_cents_become_two_decimal_amounts() -> None:
    """Integer cents turn into amounts with exactly two decimals."""
    assert str(money.from_cents(100)) == "1.00"
    assert str(money.from_cents(19999)) == "199.99"


def test_built_order_has_generated_items_and_exact_total() -> None:
    """A new order has the asked number of items and a total that is their exact sum."""
    order = new_order(items=7)
    assert len(order.items) == 7
    assert re.fullmatch(r"CUST-[A-Z0-9]{6}", order.customer_id)
    assert order.status is OrderStatus.NEW and order.currency == "USD"
    assert order.total_amount == sum(i.unit_price * i.quantity for i in order.items)
    assert order.total_amount.as_tuple().exponent == -2
    for item in order.items:
        assert 1 <= item.quantity <= 5
        assert Decimal("1.00") <= item.unit_price <= Decimal("199.99")
    assert len({item.item_id for item in order.items}) == 7


def test_generated_ids_draw_every_character_in_every_place() -> None:
    """Each character of an item's and a customer's generated id takes every letter and digit."""
    rng = random.Random(3)
    seen: dict[tuple[str, int], set[str]] = {}
    for _ in range(2_000):
        order = build_order(OrderId("ORDER-1"), 2, NOW, rng)
        codes = [("customer", order.customer_id[len("CUST-") :])]
        codes += [("item", item.item_id[len("ITEM-001-") :]) for item in order.items]
        for kind, code in codes:
            for place, character in enumerate(code):
                seen.setdefault((kind, place), set()).add(character)
    assert len(seen) == 6 + 4
    assert all(characters == set(ALPHABET) for characters in seen.values())


def test_the_carts_clock_gives_whole_milliseconds() -> None:
    """The cart's clock is UTC to the millisecond, as events keep time."""
    now = utc_now()
    assert now.tzinfo is UTC and now.microsecond % 1000 == 0


def test_every_order_the_cart_builds_passes_the_views_rules() -> None:
    """The view does not check the order of an event this instance built (event_rules.judge's
    built_here): so every order build_order makes, and every status it can be given, must pass
    the rules the view checks on everyone else's events."""
    rng = random.Random(5)
    for items in range(MIN_ITEMS, MAX_ITEMS + 1):
        for seed in range(20):
            order = new_order(f"ORDER-{items}-{seed}", items=items, seed=rng.randrange(10**9))
            assert order_problem(order) is None
            for status in OrderStatus:
                assert order_problem(order.with_status(status)) is None


def test_order_date_keeps_milliseconds_only() -> None:
    """The order date is cut to milliseconds, what the Avro event can carry."""
    assert new_order().order_date.microsecond == 123000


@pytest.mark.parametrize("count", [0, 101])
def test_items_count_out_of_range_is_refused(count: int) -> None:
    """build_order refuses fewer than 1 or more than 100 items."""
    with pytest.raises(ValueError, match="items_count"):
        new_order(items=count)


@pytest.mark.parametrize(
    ("order_id", "valid"),
    [
        ("ORDER-123", True),
        ("a", True),
        ("a.b_c-D", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("", False),
        ("-start", False),
        ("has space", False),
        ("ünï", False),
    ],
)
def test_order_id_rule(order_id: str, valid: bool) -> None:
    """Order ids are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit."""
    assert valid_order_id(order_id) is valid


def test_status_may_change_until_terminal() -> None:
    """Any status may follow a non-terminal one; delivered and cancelled are final."""
    order = new_order()
    shipped = order.with_status(OrderStatus.SHIPPED).with_status(OrderStatus.CONFIRMED)
    assert shipped.status is OrderStatus.CONFIRMED
    cancelled = order.with_status(OrderStatus.CANCELLED)
    assert cancelled.with_status(OrderStatus.CANCELLED).status is OrderStatus.CANCELLED
    with pytest.raises(StatusLocked):
        cancelled.with_status(OrderStatus.NEW)


def test_event_record_round_trip() -> None:
    """An event survives its Avro record form unchanged."""
    event = events.created(new_order(), NOW)
    assert events.from_record(to_record(event)) == event
    assert event.order_version == 1
    assert events.updated(event.order, 1, NOW).order_version == 2


def test_the_event_writer_writes_what_fastavro_writes_for_order_avsc() -> None:
    """shop.event_avro gives fastavro's bytes under schemas/order.avsc, for events of every size:
    1 to 100 items, ids up to 64 characters, long versions and times, amounts from a cent up."""
    schema = fastavro.parse_schema(order_event_schema())
    rng = random.Random(12)
    for number in range(300):
        moment = NOW + timedelta(milliseconds=rng.randrange(-(10**12), 10**12))
        order = build_order(OrderId("O" * rng.randrange(1, 65)), rng.randrange(1, 101), moment, rng)
        if number % 2:
            event = events.created(order, moment)
        else:
            order = order.with_status(rng.choice(list(OrderStatus)))
            event = events.updated(order, rng.randrange(1, 2**40), moment)
        if number % 3 == 0:
            cents = rng.choice([1, 127, 128, 255, 256, 32_767, 32_768, 10**11 * 9 + 99])
            item = replace(order.items[0], unit_price=money.from_cents(cents))
            event = replace(event, order=replace(order, items=(item,)))
        written = io.BytesIO()
        fastavro.schemaless_writer(written, schema, to_record(event))
        assert event_avro.encode(event) == written.getvalue(), event


def test_store_applies_only_newer_versions() -> None:
    """Applying the same event twice, or an older one, changes nothing."""
    store = OrderStore()
    first = events.created(new_order(), NOW)
    second = events.updated(first.order.with_status(OrderStatus.CONFIRMED), 1, NOW)
    assert store.apply(first, 0) is True
    assert store.apply(first, 0) is False
    assert store.apply(second, 1) is True
    assert store.apply(second, 1) is False
    assert store.apply(first, 0) is False
    assert store.get(first.order_id) == (second.order, 2)
    assert len(store) == 1


def test_of_two_events_with_one_version_the_first_in_the_log_stays() -> None:
    """Only the consumer applies, in log order: the first claim to a version is the one held, and
    a second claim changes nothing (the writer acknowledged only the first)."""
    first = events.created(new_order(), NOW)
    early = events.updated(first.order.with_status(OrderStatus.CONFIRMED), 1, NOW)
    late = events.updated(first.order.with_status(OrderStatus.SHIPPED), 1, NOW)
    store = OrderStore()
    store.apply(first, 0)
    assert store.apply(early, 1)
    assert not store.apply(late, 2)
    assert store.get(first.order_id) == (early.order, 2)


async def test_store_locks_one_order_at_a_time_and_forgets_idle_locks() -> None:
    """The per-order lock serialises writers of one order and is dropped once nobody uses it."""
    store = OrderStore()
    inside: list[str] = []

    async def writer(name: str) -> None:
        async with store.locked(OrderId("A")):
            inside.append(name)
            await asyncio.sleep(0)
            assert inside[-1] == name
            inside.append(name)

    async with store.locked(OrderId("B")):
        await asyncio.gather(writer("one"), writer("two"))
    assert inside in (["one", "one", "two", "two"], ["two", "two", "one", "one"])
    assert store._locks == {}


def test_an_answer_with_text_utf8_cannot_carry_is_still_json() -> None:
    """A lone surrogate in an answer's text (none reaches one today: ids are ASCII, names come
    from the catalogue) is written as U+FFFD, its amounts still exact numbers."""
    order = build_order(OrderId("O"), 1, datetime(2026, 11, 27, tzinfo=UTC), random.Random(1))
    item = replace(order.items[0], name="n\ud800")
    body = render.encode(render.order_json(replace(order, items=(item,))))
    assert '"name": "n\ufffd"'.encode() in body
    assert f'"unitPrice": {item.unit_price}'.encode() in body
