"""Applying a fetched batch to the view (pure: no broker, a stand-in decoder)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from aiokafka import ConsumerRecord, TopicPartition

from shop import events
from shop.events import OrderEvent
from shop.kafka import version_headers
from shop.order import OrderId, build_order
from shop.orders.applying import Applier
from shop.store import OrderStore

NOW = datetime(2026, 11, 26, 19, 0, tzinfo=UTC)


async def test_a_write_that_gives_up_while_its_batch_is_decoded_is_still_applied_as_sent() -> None:
    """The read-back of the cart's own event is recognised once, before the batch's awaits: a
    writer whose deadline fires meanwhile leaves ``sending``, and its record is still applied as
    the event it is, never matched to another record's decoding."""
    own = events.created(build_order(OrderId("ORDER-A"), 2, NOW, random.Random(1)), NOW)
    value = b"the bytes the cart sent"
    sending: dict[bytes, OrderEvent] = {value: own}

    class WriterGivesUpMeanwhile:
        async def decode(self, values: list[bytes | None]) -> list[OrderEvent]:
            assert values == []  # the cart's own record is not decoded
            sending.clear()
            return []

    store = OrderStore()
    applier = Applier(store, WriterGivesUpMeanwhile(), dead_letters=None)  # type: ignore[arg-type]
    record = ConsumerRecord(
        topic="order-events",
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=b"ORDER-A",
        value=value,
        checksum=None,
        serialized_key_size=7,
        serialized_value_size=len(value),
        headers=[(name, data) for name, data in version_headers(1)],
    )
    assert await applier.apply([record], sending) == {0}
    assert store.get(OrderId("ORDER-A")) == (own.order, 1)


def test_a_replay_never_commits_below_what_the_group_had_committed() -> None:
    """Commits during a replay keep the group's offset where it was (an earlier run handled the
    records below it); after a loss, the log's new end is the mark."""
    applier = Applier(OrderStore(), decoder=None, dead_letters=None)  # type: ignore[arg-type]
    replayed, shortened, fresh = (TopicPartition("order-events", p) for p in range(3))
    every = {replayed, shortened, fresh}
    for tp in (replayed, shortened):
        applier.handled_below(tp, 10)
    applier.new_from(replayed, 100)  # the log still ends after what was committed
    applier.new_from(shortened, 5)  # the log lost its tail: it ends below what was committed
    assert applier.committable({replayed: 3, shortened: 3, fresh: 3}, every) == {
        replayed: 10,
        shortened: 5,
        fresh: 3,
    }
    assert applier.committable({replayed: 12, shortened: 7}, every) == {
        replayed: 12,
        shortened: 7,
    }


def test_the_new_end_of_a_log_that_lost_records_is_committed_until_settled() -> None:
    """A partition that lost records is committed at its new end even with nothing applied (one
    that lost every record has none to apply), or every start would report the loss again; once
    committed at that end, or given up, no more."""
    applier = Applier(OrderStore(), decoder=None, dead_letters=None)  # type: ignore[arg-type]
    emptied, whole = (TopicPartition("order-events", p) for p in range(2))
    applier.lost_to(emptied, 0)
    assert applier.shortened
    assert applier.committable({}, {emptied, whole}) == {emptied: 0}
    assert applier.committable({}, {whole}) == {}  # not assigned here: not committed here
    applier.lost_to(emptied, 2)  # assigned again meanwhile, and found shorter again
    applier.settled({emptied: 0})  # the first commit returns: the new end still needs one
    assert applier.committable({}, {emptied}) == {emptied: 2}
    applier.settled({emptied: 2})
    assert not applier.shortened
    applier.lost_to(whole, 4)
    applier.forget({whole})  # revoked: the next owner checks it
    assert not applier.shortened
