"""Which partition a key goes to: the producer's default partitioner, computed anywhere.

The instance that owns an order is the one that owns its partition, so routing a request must put
the order on exactly the partition the producer will: murmur2 of the key bytes, made positive,
modulo the partition count (as Kafka's Java client and aiokafka's ``DefaultPartitioner`` do).
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_of(key: bytes, partitions: int) -> int:
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions
