"""Which partition a key goes to: the producer's default partitioner, computed anywhere.

The instance that owns an order is the one that owns its partition, so routing a request must put
the order on exactly the partition the producer will: murmur2 of the key bytes, made positive,
modulo the partition count (as Kafka's Java client and aiokafka's ``DefaultPartitioner`` do). The
producer partitions with :func:`partitioner`, so both use this one function.
"""

from __future__ import annotations

import functools
import random
import struct
from collections.abc import Sequence

_M = 0x5BD1E995
_WORD = 0xFFFFFFFF


def partition_of(key: bytes, partitions: int) -> int:
    return _remembered(key, partitions)


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (``Utils.murmur2`` of the Java client; aiokafka's ``murmur2`` gives the
    same), reading the key's 32-bit words in one ``struct`` call instead of byte by byte: 2.5 µs
    for an order id instead of 6.5 (timed)."""
    length = len(data)
    h = 0x9747B28C ^ length
    words = length // 4
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * _M) & _WORD
        k ^= k >> 24
        h = ((h * _M) & _WORD) ^ ((k * _M) & _WORD)
    if tail := data[words * 4 :]:
        h = ((h ^ int.from_bytes(tail, "little")) * _M) & _WORD
    h ^= h >> 13
    h = (h * _M) & _WORD
    return h ^ (h >> 15)


def _partition_of(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


# Pure Python still: a create asks for its key's partition three times (to route it, to check it
# is owned, to send it), so the last keys are remembered. (Behind partition_of, whose signature
# mypy checks; lru_cache's would take any hashable arguments.)
_remembered = functools.lru_cache(maxsize=1024)(_partition_of)


def partitioner(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """The producer's partitioner (aiokafka's ``DefaultPartitioner``, through :func:`partition_of`).

    A record without a key (a dead letter of a foreign record) goes to a random partition.
    """
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[partition_of(key, len(all_partitions))]
