"""Who owns which partition: the assignor's balance, the producer's partitioner, and an instance
that was frozen past its session timeout (pure, no broker)."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as kafka_murmur2

from shop.errors import Rebalancing
from shop.orders.assignor import balanced
from shop.ownership import Instance, Ownership
from shop.partitioning import murmur2, partition_of, partitioner

ME = Instance("http://a:8000", "http://a:8001")
OTHER = Instance("http://b:8000", "http://b:8001")


def test_partition_of_is_the_producers_partitioner() -> None:
    """Routing, and the service's producer, put every key on the partition aiokafka's default
    partitioner gives it."""
    rng = random.Random(7)
    for _ in range(2_000):
        key = f"ORDER-{rng.randrange(10**12)}".encode()
        count = rng.randint(1, 64)
        every = list(range(count))
        expected = DefaultPartitioner()(key, every, every)
        assert partition_of(key, count) == partitioner(key, every, every) == expected
        assert partition_of(key, count) == expected  # remembered, still the same


def test_murmur2_is_kafkas() -> None:
    """The service's murmur2 hashes any bytes, of every length up to 70, as aiokafka's does."""
    rng = random.Random(11)
    for length in range(71):
        for _ in range(30):
            data = rng.randbytes(length)
            assert murmur2(data) == kafka_murmur2(data), data


@pytest.mark.parametrize(
    ("previous", "partitions"),
    [
        ({"m1": []}, 6),
        ({"m1": [0, 1, 2, 3, 4, 5], "m2": []}, 6),
        ({"m1": [0, 1, 2], "m2": [3, 4, 5], "m3": []}, 6),
        ({"m1": [0, 1], "m2": [2, 3], "m3": [4, 5]}, 7),
        ({"m1": [0, 1, 2, 3, 4, 5, 6]}, 7),
        ({"m1": [], "m2": [], "m3": [], "m4": []}, 3),
    ],
)
def test_balanced_gives_every_partition_once_evenly_and_moves_few(
    previous: dict[str, list[int]], partitions: int
) -> None:
    """Each partition goes to exactly one member, counts differ by one at most, and a member keeps
    what it owned up to its share (only the surplus moves)."""
    assignment = balanced(previous, list(range(partitions)))
    given = sorted(p for owned in assignment.values() for p in owned)
    assert given == list(range(partitions))
    counts = [len(owned) for owned in assignment.values()]
    assert max(counts) - min(counts) <= 1
    for member, owned in previous.items():
        kept = set(owned) & set(assignment[member])
        assert len(kept) == min(len(owned), len(assignment[member]))


def test_balanced_keeps_a_balanced_assignment_as_it_is() -> None:
    """A rebalance that changes nothing (a member rejoined) moves no partition."""
    previous = {"m1": [0, 3], "m2": [1, 4], "m3": [2, 5]}
    assert balanced(previous, list(range(6))) == previous


async def test_an_instance_frozen_past_its_session_timeout_answers_rebalancing() -> None:
    """Frozen longer than the session timeout, an instance cannot know whether it still owns its
    partitions: every order is 'rebalancing' until the group assigns them again."""
    ownership = Ownership(ME, session_timeout_s=0.3)
    async with ownership.running():
        ownership.assigned({0: ME, 1: OTHER})
        assert ownership.owner("ORDER-1").instance in (ME, OTHER)
        time.sleep(0.5)  # noqa: ASYNC251 - the fault itself: the whole process stops (SIGSTOP)
        with pytest.raises(Rebalancing):
            ownership.owner("ORDER-1")
        await asyncio.sleep(0.6)  # a clock's behaviour: after its next ticks the doubt stays
        with pytest.raises(Rebalancing):
            ownership.owner("ORDER-1")
        ownership.assigned({0: ME, 1: OTHER})
        assert ownership.owner("ORDER-1").partition == partition_of(b"ORDER-1", 2)


async def test_nobody_owns_anything_between_a_revocation_and_the_next_assignment() -> None:
    """After a revocation every order is 'rebalancing' with Retry-After, until the new table."""
    ownership = Ownership(ME, session_timeout_s=10)
    async with ownership.running():
        ownership.assigned({0: ME})
        assert ownership.owner("ORDER-1").mine
        ownership.revoked()
        with pytest.raises(Rebalancing) as raised:
            ownership.owner("ORDER-1")
        assert raised.value.headers["Retry-After"] == "1"
        ownership.assigned({0: OTHER})
        assert not ownership.owner("ORDER-1").mine
        assert ownership.owned() == []
