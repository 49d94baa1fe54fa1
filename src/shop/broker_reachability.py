"""Failing fast when no broker accepts the producer's connections.

While every broker refuses connections (stopped, port closed), aiokafka keeps retrying behind a
send, and the write would wait its whole request timeout for a 503 that is certain from the first
refused connection. Asking the producer's client first costs nothing while it is connected (a
dictionary look-up) and one connection attempt while it is not.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import TopicPartition

from shop.errors import KafkaUnavailable

log = logging.getLogger(__name__)

# A refused connection fails in milliseconds; a probe still undecided after this decides nothing.
PROBE_TIMEOUT_S = 1.0


async def ensure_reachable(client: Any, topic: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Return when aiokafka's ``client`` (a producer's ``.client``) is connected to a broker, or
    connects to one within ``timeout_s``; :class:`KafkaUnavailable` when every broker its metadata
    names refused. The leaders of ``topic``'s partitions are asked first: with the client connected
    to one, this costs no I/O. Any other broker that answers means the cluster is there (a leader
    may be moving), and the write goes on.

    Nothing is decided when the cluster's metadata names no broker, or when a connection attempt
    neither succeeds nor fails within ``timeout_s`` (a broker that hangs, a dropped packet): the
    write then goes on and waits, bounded, as it would have.
    """
    if _connected(client):
        return
    nodes = _candidates(client.cluster, topic)
    if not nodes:
        return
    try:
        async with asyncio.timeout(timeout_s):
            for node in nodes:
                # True at once for a live connection; otherwise one attempt to open it.
                if await client.ready(node):
                    return
    except TimeoutError:
        return
    log.warning(
        "no Kafka broker accepts connections (tried %s); a write is 503 at once",
        ", ".join(map(str, nodes)),
    )
    raise KafkaUnavailable(
        f"Kafka is unreachable (no broker accepts connections) while publishing to {topic}; "
        "try again later"
    )


def _connected(client: Any) -> bool:
    """Whether the client holds a live connection to any broker: the answer every write gets while
    the cluster is there, read without building the candidates or arming a timer (aiokafka
    0.12-0.14 internals: its connections by node id and group; ``ready`` reads the same)."""
    return any(conn.connected() for conn in client._conns.values())


def _candidates(cluster: Any, topic: str) -> list[Any]:
    """Every broker the metadata names, the leaders of ``topic``'s partitions first."""
    leaders = {
        cluster.leader_for_partition(TopicPartition(topic, partition))
        for partition in cluster.partitions_for_topic(topic) or ()
    }
    brokers = {broker.nodeId for broker in cluster.brokers()}
    # None: unknown, -1: no leader elected; both are left to the brokers list.
    return sorted(leaders & brokers) + sorted(brokers - leaders, key=str)
