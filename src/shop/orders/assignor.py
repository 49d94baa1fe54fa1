"""The consumer group's assignor: who owns which partition, and the whole table for every member.

Each member's subscription carries its instance's advertised URLs and the partitions it owns now;
the group leader balances the partitions over the members, keeping each where it is as far as the
balance allows (a partition that moves is replayed by its new owner, and meanwhile answers 503), and
sends every member, with its own partitions, the partition -> instance table of the whole group.
Kafka Streams does the same with ``application.server`` for its interactive queries; Kafka, not
this code, decides when to rebalance and who leads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

from shop.ownership import Instance, Ownership, encode

log = logging.getLogger(__name__)

NAME = "shop-ownership"
VERSION = 0
USER_DATA_VERSION = 1


def balanced(
    previous: Mapping[str, Collection[int]], partitions: Sequence[int]
) -> dict[str, list[int]]:
    """``partitions`` over the members of ``previous`` (member -> what it owns now): counts differ
    by one at most, and a member keeps what it owns as far as its share allows."""
    members = sorted(previous, key=lambda member: (-len(previous[member]), member))
    if not members:
        return {}
    share, extra = divmod(len(partitions), len(members))
    quota = {member: share + (1 if rank < extra else 0) for rank, member in enumerate(members)}
    result: dict[str, list[int]] = {member: [] for member in members}
    free = set(partitions)
    for member in members:
        for partition in sorted(previous[member]):
            if partition in free and len(result[member]) < quota[member]:
                result[member].append(partition)
                free.discard(partition)
    for partition in sorted(free):
        member = min(
            (m for m in members if len(result[m]) < quota[m]), key=lambda m: (len(result[m]), m)
        )
        result[member].append(partition)
    return {member: sorted(owned) for member, owned in result.items()}


class OwnershipAssignor(AbstractPartitionAssignor):  # type: ignore[misc]  # aiokafka is untyped
    """The assignor of one instance: it tells the group where this instance is, and hands the
    table it receives to :class:`Ownership`."""

    def __init__(self, topic: str, ownership: Ownership) -> None:
        self._topic = topic
        self._ownership = ownership
        self._owned: list[int] = []

    @property
    def name(self) -> str:
        return NAME

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        user_data = {
            "v": USER_DATA_VERSION,
            "instance": self._ownership.me.to_json(),
            "owned": self._owned,
        }
        return ConsumerProtocolMemberMetadata(VERSION, sorted(topics), encode(user_data))

    def assign(
        self, cluster: ClusterMetadata, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        instances: dict[str, Instance] = {}
        owned: dict[str, list[int]] = {}
        for member, metadata in members.items():
            try:
                data: Any = json.loads(metadata.user_data)
                instances[member] = Instance.from_json(data["instance"])
                owned[member] = [int(p) for p in data["owned"]]
            except (ValueError, TypeError, KeyError) as exc:
                # Every member runs this assignor (the group agreed on it); unreadable data is a
                # member of another version: it gets nothing rather than unroutable partitions.
                log.error("group member %s sent unreadable metadata (%r); it gets no partitions",
                          member, exc)  # fmt: skip
        partitions = sorted(cluster.partitions_for_topic(self._topic) or ())
        assignment = balanced(owned, partitions)
        table = {
            str(p): instances[member].to_json() for member, ps in assignment.items() for p in ps
        }
        user_data = encode({"v": USER_DATA_VERSION, "table": table})
        log.info(
            "assigning %d partitions of %s over %d instances: %s",
            len(partitions),
            self._topic,
            len(assignment),
            ", ".join(f"{instances[m].cart_url} {ps}" for m, ps in sorted(assignment.items())),
        )
        return {
            member: ConsumerProtocolMemberAssignment(
                VERSION, [(self._topic, assignment.get(member, []))], user_data
            )
            for member in members
        }

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        self._owned = sorted(
            p for topic, ps in assignment.assignment for p in ps if topic == self._topic
        )
        data: Any = json.loads(assignment.user_data)
        owners = {int(p): Instance.from_json(owner) for p, owner in data["table"].items()}
        self._ownership.assigned(owners)
