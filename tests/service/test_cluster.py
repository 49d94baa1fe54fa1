"""On Apache Kafka, what someone who runs a cluster counts on: brokers killed or restarted under
load lose no acknowledged write, and writes come back without restarting the service.

A three-node KRaft cluster (every node broker and controller) per test, the order topic at
replication factor 3 with ``min.insync.replicas=2``, and one real broker killed and restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shop.children import ChildProcess
from shop.main import RunningService, running_service
from shop.settings import Settings
from tests.brokers import KafkaNode, kafka_broker, kafka_nodes
from tests.conftest import broker_kind
from tests.service.helpers import answer, fresh, own_broker, topic_records
from tests.waiting import unique, wait_until

pytestmark = pytest.mark.cluster

WRITERS = 4


@dataclasses.dataclass
class Cluster:
    nodes: list[KafkaNode]
    brokers: list[ChildProcess]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def broker_of(self, node_id: int) -> ChildProcess:
        return self.brokers[node_id - 1]


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """Three nodes, started together (a quorum needs a majority to elect its leader)."""
    nodes = kafka_nodes(tmp_path, 3)
    defaults = {"min.insync.replicas": "2", "default.replication.factor": "3"}
    brokers = [kafka_broker(node, nodes, **defaults) for node in nodes]
    try:
        await asyncio.gather(*(broker.start() for broker in brokers))
        found = Cluster(nodes, brokers)
        await wait_until(lambda: _brokers_up(found, 3), timeout=60, what="three brokers")
        yield found
    finally:
        await asyncio.gather(*(broker.stop() for broker in brokers))


@dataclasses.dataclass
class Load:
    """Creates sent by WRITERS clients until stopped: what was acknowledged, and when."""

    service: RunningService
    acked: list[tuple[float, str]] = dataclasses.field(default_factory=list)
    refused: list[tuple[float, int]] = dataclasses.field(default_factory=list)

    async def run(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        async def writer(number: int) -> None:
            count = 0
            while not stop.is_set():
                count += 1
                order_id = f"{unique('LOAD')}-{number}-{count}"
                body = {"orderId": order_id, "itemsCount": 1}
                async with http.post(f"{self.service.cart_url}/create-order", json=body) as r:
                    status, _ = await answer(r)
                if status == 201:
                    self.acked.append((time.monotonic(), order_id))
                else:
                    assert status == 503, status
                    self.refused.append((time.monotonic(), status))
                    await asyncio.sleep(0.05)  # a client backing off, not a test waiting

        await asyncio.gather(*(writer(number) for number in range(WRITERS)))

    def longest_gap_after(self, moment: float) -> float:
        """The longest time without an acknowledgement from ``moment`` on (the outage)."""
        times = [moment, *sorted(t for t, _ in self.acked if t >= moment)]
        return max((b - a for a, b in itertools.pairwise(times)), default=float("inf"))


@contextlib.asynccontextmanager
async def load_on(service: RunningService, http: aiohttp.ClientSession) -> AsyncIterator[Load]:
    load = Load(service)
    stop = asyncio.Event()
    task = asyncio.create_task(load.run(http, stop))
    try:
        yield load
    finally:
        stop.set()
        await task


async def acknowledgements(load: Load, count: int) -> None:
    """Wait until ``count`` more creates than now were acknowledged."""
    target = len(load.acked) + count

    async def reached() -> bool:
        return len(load.acked) >= target

    await wait_until(reached, timeout=60, what=f"{count} more acknowledged creates")


def cluster_settings(service_settings: Settings, cluster: Cluster) -> Settings:
    return fresh(
        service_settings,
        kafka_bootstrap_servers=cluster.bootstrap,
        topic_replication_factor=3,
        request_timeout_s=5.0,
    )


async def test_killing_a_partition_leader_loses_no_acknowledged_write(
    service_settings: Settings, http: aiohttp.ClientSession, cluster: Cluster
) -> None:
    """SIGKILL the leader of a partition while creates flow: writes resume after the election
    without a restart, and every create that got 201 is in the view and on the log."""
    settings = cluster_settings(service_settings, cluster)
    async with running_service(settings) as service:
        async with load_on(service, http) as load:
            await acknowledgements(load, 40)
            leader = (await _leaders(cluster.bootstrap, settings.topic))[0]
            killed_at = time.monotonic()
            os.kill(cluster.broker_of(leader).pid or 0, signal.SIGKILL)
            await acknowledgements(load, 40)
        unavailable = load.longest_gap_after(killed_at)
        print(
            f"\nleader {leader} killed: no 201 for {unavailable:.2f} s at most, "
            f"{len(load.refused)} writes answered 503"
        )
        await _every_acknowledged_create_is_kept(service, load, settings)


async def test_a_rolling_restart_loses_and_duplicates_nothing(
    service_settings: Settings, http: aiohttp.ClientSession, cluster: Cluster
) -> None:
    """Each of the three brokers stopped and started again in turn, under load: no create that
    got 201 is missing, and no order has two events on the log."""
    settings = cluster_settings(service_settings, cluster)
    async with running_service(settings) as service:
        async with load_on(service, http) as load:
            await acknowledgements(load, 20)
            for node in cluster.nodes:
                broker = cluster.broker_of(node.node_id)
                await broker.stop()
                await broker.start()
                await wait_until(
                    lambda: _fully_replicated(cluster, settings.topic),
                    timeout=90,
                    what=f"node {node.node_id} back in every ISR",
                )
                await acknowledgements(load, 20)
        await _every_acknowledged_create_is_kept(service, load, settings)
    records = await topic_records(cluster.bootstrap, settings.topic, settings.topic_partitions)
    keys = [record.key for record in records]
    assert len(keys) == len(set(keys)), "an order has two events on the log"


async def test_a_killed_real_broker_keeps_every_acknowledged_write(
    service_settings: Settings,
    http: aiohttp.ClientSession,
    pytestconfig: pytest.Config,
    tmp_path: Path,
) -> None:
    """One Apache Kafka broker SIGKILLed right after a burst of 201s and restarted on its data:
    every acknowledged order is there, and nothing is reported lost (noida-db, the embedded
    broker, loses up to a second: tests/service/test_log_loss.py)."""
    if broker_kind(pytestconfig) != "kafka":
        pytest.skip("the reference broker's behaviour")
    broker, bootstrap = own_broker(pytestconfig, tmp_path)
    settings = fresh(service_settings, kafka_bootstrap_servers=bootstrap, request_timeout_s=5.0)
    async with broker.running(), running_service(settings) as service:
        async with load_on(service, http) as load:
            await acknowledgements(load, 200)
        os.kill(broker.pid or 0, signal.SIGKILL)
        await broker.stop()
        await broker.start()
        async with load_on(service, http) as after:
            await acknowledgements(after, 10)
        assert service.view.consumer.loss.detected == 0
        await _every_acknowledged_create_is_kept(service, load, settings)


async def _every_acknowledged_create_is_kept(
    service: RunningService, load: Load, settings: Settings
) -> None:
    assert settings.kafka_bootstrap_servers is not None
    acked = {order_id for _, order_id in load.acked}
    await service.view.consumer.read_to_end()
    assert not [o for o in acked if service.view.store.get(o) is None], "missing in the view"
    logged = {
        record.key.decode()
        for record in await topic_records(
            settings.kafka_bootstrap_servers, settings.topic, settings.topic_partitions
        )
    }
    assert acked <= logged, f"{len(acked - logged)} acknowledged creates are not on the log"
    assert service.view.consumer.loss.report() is None, "a loss was reported where none was"


async def _admin(bootstrap: str) -> Any:
    admin: Any = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    return admin


async def _brokers_up(cluster: Cluster, count: int) -> bool:
    try:
        admin = await _admin(cluster.bootstrap)
    except Exception:
        return False
    try:
        return len((await admin.describe_cluster())["brokers"]) == count
    except Exception:
        return False
    finally:
        await admin.close()


async def _leaders(bootstrap: str, topic: str) -> list[int]:
    admin = await _admin(bootstrap)
    try:
        (described,) = await admin.describe_topics([topic])
        return [p["leader"] for p in sorted(described["partitions"], key=lambda p: p["partition"])]
    finally:
        await admin.close()


async def _fully_replicated(cluster: Cluster, topic: str) -> bool:
    try:
        admin = await _admin(cluster.bootstrap)
    except Exception:
        return False
    try:
        (described,) = await admin.describe_topics([topic])
        return all(len(p["isr"]) == 3 for p in described["partitions"])
    except Exception:
        return False
    finally:
        await admin.close()
