"""Writes come back after the broker does: a broker killed and restarted on its data, which forgot
the producer's last sequence numbers, without restarting the service."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka.partitioner import DefaultPartitioner

from shop.children import ChildProcess, noida_broker
from shop.main import RunningService, running_service
from shop.settings import Settings
from tests.conftest import broker_kind
from tests.service.helpers import answer, create, fresh, own_broker, put_status
from tests.waiting import unique, wait_until

# Writes must succeed again this soon after the restarted broker answers (issue 7).
RECOVERY_S = 10.0


@pytest.mark.idempotence
@pytest.mark.persistence
async def test_writes_succeed_again_soon_after_a_killed_broker_restarts(
    service_settings: Settings,
    http: aiohttp.ClientSession,
    pytestconfig: pytest.Config,
    tmp_path: Path,
) -> None:
    """After the broker is SIGKILLed and restarted on its data, a create answers 201 within 10 s
    of the broker answering again; the producer was replaced once though many writes saw it
    fail, and orders created before the kill can be updated, one whose update was in doubt too."""
    _needs_noida(pytestconfig)
    broker, bootstrap = own_broker(pytestconfig, tmp_path)
    settings = _settings(service_settings, bootstrap)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(broker.running())
        restarted = _same_broker(bootstrap, tmp_path)
        stack.push_async_callback(restarted.stop)  # after the service has stopped
        service = await stack.enter_async_context(running_service(settings))
        saved = await _kill_after_unsaved_writes(http, service, broker, settings, tmp_path)
        # In doubt: the producer holds it and will retry it; the writer keeps its delivery.
        assert await put_status(http, service.cart_url, saved[0], "confirmed") == 503

        await restarted.start()
        answering = asyncio.get_running_loop().time()
        answers = list(await asyncio.gather(*(_create(http, service) for _ in range(20))))

        async def created() -> bool:
            answers.append(await _create(http, service))
            return answers[-1][0] == 201

        await wait_until(
            created, timeout=3 * RECOVERY_S, what="a create to succeed after the restart"
        )
        took = asyncio.get_running_loop().time() - answering
        assert took <= RECOVERY_S, f"{took:.1f} s; the answers before: {answers[-3:]}"
        assert service.publisher.replacements == 1
        assert await put_status(http, service.cart_url, saved[0], "shipped") == 200
        assert await put_status(http, service.cart_url, saved[1], "confirmed") == 200


@pytest.mark.idempotence
@pytest.mark.persistence
async def test_health_is_503_while_the_producer_is_being_replaced(
    service_settings: Settings,
    http: aiohttp.ClientSession,
    pytestconfig: pytest.Config,
    tmp_path: Path,
) -> None:
    """While a broken producer cannot be replaced (its bootstrap address refuses connections),
    /health is 503 with "producer": "recovering" though the broker answers, writes are 503 at once,
    and writes and health come back once a new producer can start."""
    _needs_noida(pytestconfig)
    broker, bootstrap = own_broker(pytestconfig, tmp_path)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(broker.running())
        restarted = _same_broker(bootstrap, tmp_path)
        stack.push_async_callback(restarted.stop)
        door = await stack.enter_async_context(_door_to(bootstrap))
        settings = _settings(service_settings, door.address)
        service = await stack.enter_async_context(running_service(settings))
        await _kill_after_unsaved_writes(http, service, broker, settings, tmp_path)
        await door.shut()  # the service already knows the broker's own address from its metadata
        await restarted.start()

        async def refused_at_once() -> tuple[int, Any] | None:
            status, body = await _create(http, service)
            return (status, body) if "re-established" in body.get("message", "") else None

        status, body = await wait_until(refused_at_once, what="writes refused while replacing")
        assert (status, body["error"]) == (503, "kafka_unavailable")
        health = await wait_until(
            lambda: _health(http, service, lambda body: body["kafka"] == "connected"),
            what="health with the broker answering again",
        )
        assert health[0] == 503
        assert (health[1]["status"], health[1]["producer"]) == ("unhealthy", "recovering")
        async with http.get(f"{service.orders_url}/readyz") as response:
            ready = await answer(response)
        assert ready[0] == 503
        assert (ready[1]["status"], ready[1]["checks"]["producer"]) == ("not_ready", False)

        await door.open()
        await wait_until(
            lambda: _created(http, service),
            timeout=RECOVERY_S,
            what="a create after the door opens",
        )
        health = await wait_until(lambda: _health(http, service, lambda body: True))
        assert (health[0], health[1]["producer"]) == (200, "ready")
        async with http.get(f"{service.cart_url}/readyz") as response:
            checks = {"kafka": True, "producer": True, "orderView": True}
            assert await answer(response) == (200, {"status": "ready", "checks": checks})


def _needs_noida(pytestconfig: pytest.Config) -> None:
    """These break the producer the way noida-db does when it is killed: it forgets the last
    sequence numbers it acknowledged (Apache Kafka keeps them; tests/cluster covers it)."""
    if broker_kind(pytestconfig) != "noida":
        pytest.skip("needs noida-db, which forgets acknowledged writes when killed")


def _settings(service_settings: Settings, bootstrap: str) -> Settings:
    return fresh(
        service_settings,
        kafka_bootstrap_servers=bootstrap,
        kafka_idempotence=True,
        request_timeout_s=2.0,
    )


def _same_broker(bootstrap: str, tmp_path: Path) -> ChildProcess:
    """The broker of ``own_broker`` again: same port, same data directory (tmp_path/"noida")."""
    port = int(bootstrap.rsplit(":", 1)[1])
    return noida_broker("127.0.0.1", port, tmp_path / "noida", tmp_path / "noida-restarted.log")


async def _kill_after_unsaved_writes(
    http: aiohttp.ClientSession,
    service: RunningService,
    broker: ChildProcess,
    settings: Settings,
    tmp_path: Path,
) -> list[str]:
    """Create an order on each partition and wait until the broker saved them; create one more on
    each partition (acknowledged, not saved yet) and SIGKILL the broker at once. Restarted, it has
    forgotten the producer's last sequence number on every partition. The saved orders' ids."""
    saved = _one_order_id_per_partition(settings.topic_partitions)
    for order_id in saved:
        await create(http, service.cart_url, order_id)
    await wait_until(
        lambda: _holds(tmp_path / "noida", settings.topic, len(saved)),
        what="the broker to save the first orders",
    )
    for order_id in _one_order_id_per_partition(settings.topic_partitions):
        await create(http, service.cart_url, order_id)
    assert broker.pid is not None
    os.kill(broker.pid, signal.SIGKILL)
    await broker.exited()
    return saved


def _one_order_id_per_partition(partitions: int) -> list[str]:
    """New order ids whose records land one on each partition (the producer's partitioner)."""
    every = list(range(partitions))
    chosen: dict[int, str] = {}
    while len(chosen) < partitions:
        order_id = unique("ORDER")
        chosen.setdefault(DefaultPartitioner()(order_id.encode(), every, every), order_id)
    return list(chosen.values())


async def _holds(data_dir: Path, topic: str, records: int) -> bool:
    """Whether noida-db's data file (saved about once a second) holds ``records`` of ``topic``."""
    try:
        state = json.loads((data_dir / "kafka.json").read_text())
    except (OSError, ValueError):  # not written yet
        return False
    for name, found in state["topics"]:
        if name == topic:
            return sum(p["high_watermark"] for _, p in found["partitions"]) >= records
    return False


async def _create(http: aiohttp.ClientSession, service: RunningService) -> tuple[int, Any]:
    async with http.post(
        f"{service.cart_url}/create-order", json={"orderId": unique("ORDER"), "itemsCount": 1}
    ) as response:
        return await answer(response)


async def _created(http: aiohttp.ClientSession, service: RunningService) -> bool:
    return (await _create(http, service))[0] == 201


async def _health(
    http: aiohttp.ClientSession, service: RunningService, wanted: Any
) -> tuple[int, Any] | None:
    async with http.get(f"{service.cart_url}/health") as response:
        status, body = await answer(response)
    return (status, body) if wanted(body) else None


class _Door:
    """A port that forwards to the broker, used only to bootstrap; while shut it refuses
    connections, as an unreachable bootstrap address would."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self._target = (host, int(port))
        self._server: asyncio.Server | None = None
        self._port = 0
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._port}"

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def shut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for pipe in self._pipes:
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            pipe = asyncio.create_task(_pipe(source, sink))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except OSError:
        pass
    finally:
        sink.close()


@contextlib.asynccontextmanager
async def _door_to(target: str) -> AsyncIterator[_Door]:
    door = _Door(target)
    await door.open()
    try:
        yield door
    finally:
        await door.shut()
