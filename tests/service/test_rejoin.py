"""An instance whose group coordination died (an empty assignment from the broker) rejoins the
group with a new consumer and serves its partitions again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

from shop import topics
from shop.kafka import KafkaAdmin
from shop.main import RunningService, running_service
from shop.orders.assignor import NAME, VERSION
from shop.settings import Settings
from tests.instances import Routing
from tests.service.helpers import answer, create, fresh
from tests.waiting import unique, wait_until

PARTITIONS = 3
# Marks the test member's subscription, so that its assignor finds itself among the members.
ME = b"test-leader"
# Joining, a rebalance, the SyncGroup: seconds on every broker (noida about 3, Kafka its initial
# rebalance delay of 3 s); the service's own start-up gives up after 30 s without progress.
GROUP_S = 30.0
DIED = "Unexpected error in coordinator routine"


class OnlyMe(AbstractPartitionAssignor):  # type: ignore[misc]  # aiokafka is untyped
    """Named as the service's OwnershipAssignor (``NAME``), so that the group agrees on it; as
    leader, it assigns every partition to itself and leaves every other member out of the
    SyncGroup."""

    def __init__(self, topic: str) -> None:
        self._topic = topic
        self.left_out: set[str] = set()

    @property
    def name(self) -> str:
        return NAME

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        return ConsumerProtocolMemberMetadata(VERSION, sorted(topics), ME)

    def assign(
        self, cluster: ClusterMetadata, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        partitions = sorted(cluster.partitions_for_topic(self._topic) or ())
        me = [member for member, metadata in members.items() if metadata.user_data == ME]
        self.left_out |= set(members) - set(me)
        return {
            member: ConsumerProtocolMemberAssignment(VERSION, [(self._topic, partitions)], b"")
            for member in me
        }

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        pass


@contextlib.asynccontextmanager
async def leading_member(bootstrap: str, settings: Settings) -> AsyncIterator[OnlyMe]:
    """A member of the service's group, alone in it (so its leader) and owning every partition."""
    assignor = OnlyMe(settings.topic)
    member = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=settings.consumer_group,
        partition_assignment_strategy=(assignor,),
        enable_auto_commit=False,
    )
    await member.start()
    try:
        member.subscribe([settings.topic])
        everything = {TopicPartition(settings.topic, p) for p in range(PARTITIONS)}

        async def assigned() -> bool:
            # Fetching drives nothing of the group (a task of aiokafka's does) but raises its
            # errors; the member must see its assignment before the service joins.
            await member.getmany(timeout_ms=100)
            return bool(member.assignment() == everything)

        await wait_until(assigned, timeout=GROUP_S, what="the test member to own the topic")
        yield assignor
    finally:
        await member.stop()


async def serving(
    settings: Settings, started: asyncio.Future[RunningService], done: asyncio.Event
) -> None:
    """The service, from start until ``done``; ``started`` once it serves."""
    async with running_service(settings) as service:
        started.set_result(service)
        await done.wait()


async def test_an_instance_left_out_of_an_assignment_rejoins_and_serves(
    service_settings: Settings,
    bootstrap_servers: str,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """When the group's leader leaves an instance out of its assignment, the broker sends the
    instance an empty one, which ends aiokafka's group coordination; the instance replaces its
    consumer, and once that leader is gone it owns every partition and serves."""
    caplog.set_level(logging.WARNING)
    settings = fresh(service_settings, topic_partitions=PARTITIONS)
    async with KafkaAdmin.running(bootstrap_servers, settings.request_timeout_s) as admin:
        await topics.ensure_topics(admin, settings)
    done = asyncio.Event()
    started: asyncio.Future[RunningService] = asyncio.get_running_loop().create_future()
    task = None
    try:
        async with leading_member(bootstrap_servers, settings) as assignor:
            task = asyncio.create_task(serving(settings, started, done))

            async def died() -> bool:
                return bool(assignor.left_out) and any(
                    DIED in record.getMessage() for record in caplog.records
                )

            await wait_until(died, timeout=GROUP_S, what="the instance's coordination to die")

        async def up() -> RunningService | None:
            assert task is not None
            if task.done():
                task.result()  # the service's start-up error, now
                raise AssertionError("the service stopped")
            return started.result() if started.done() else None

        service = await wait_until(up, timeout=GROUP_S, what="the service to start")

        async def owns_everything() -> bool:
            async with http.get(f"{service.cart_url}/health") as response:
                routing = Routing.of((await answer(response))[1])
            return routing.stable and routing.owned == set(range(PARTITIONS)) and routing.caught_up

        await wait_until(owns_everything, timeout=GROUP_S, what="the instance to own it all")
        order_id = unique("REJOIN")
        await create(http, service.cart_url, order_id)
        params = {"orderId": order_id}
        async with http.get(f"{service.orders_url}/order-details", params=params) as response:
            assert (await answer(response))[0] == 200
        rejoins = [r for r in caplog.records if r.getMessage().startswith("rejoining the group")]
        assert rejoins and all(record.levelno == logging.WARNING for record in rejoins)
    finally:
        done.set()
        if task is not None and not started.done():
            task.cancel()  # never started: the test has failed already
            await asyncio.wait([task], timeout=60.0)
        elif task is not None:
            await asyncio.wait_for(task, 60.0)
