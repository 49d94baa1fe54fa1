"""Which partition a key goes to: the producer's default partitioner, computed anywhere.

The instance that owns an order is the one that owns its partition, so routing a request must put
the order on exactly the partition the producer will: murmur2 of the key bytes, made positive,
modulo the partition count (as Kafka's Java client and aiokafka's ``DefaultPartitioner`` do). The
producer partitions with :func:`partitioner`, so both use this one function.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence

from aiokafka.partitioner import murmur2


def partition_of(key: bytes, partitions: int) -> int:
    return _remembered(key, partitions)


def _partition_of(key: bytes, partitions: int) -> int:
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


# aiokafka's murmur2 is pure Python (about 4 % of a create's CPU, measured): a create asks for its
# key's partition three times (to route it, to check it is owned, to send it), so the last keys
# are remembered. (Behind partition_of, whose signature mypy checks; lru_cache's would take any
# hashable arguments.)
_remembered = functools.lru_cache(maxsize=1024)(_partition_of)


def partitioner(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """The producer's partitioner (aiokafka's ``DefaultPartitioner``, through :func:`partition_of`).

    A record without a key (a dead letter of a foreign record) goes to a random partition.
    """
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[partition_of(key, len(all_partitions))]
