"""create-order with 1, 2 and 3 instances of the service in one consumer group, on one broker.

Every instance count gets a topic of PARTITIONS partitions and a consumer group of its own, on the
same broker and registry (started by the benchmark, bench/stack.py). The first instance creates
the topic; the others join once it serves, and the measurement waits until the group is stable:
every instance's ``/health`` shows the same table of every partition, owns its part of it and has
caught up. Then one wrk per instance runs side by side, each with its share of the 64 connections
and orderIds of its own, so each instance receives the same load and forwards what it does not
own to the owner (one hop). With more than one instance, a second run follows on the same group
in which each wrk sends only orderIds of its instance's partitions (found by the producer's
partitioner beforehand), as a client or load balancer that knew the table would: nothing is
forwarded, so the two runs apart tell what forwarding costs from what more processes cost.

What is summed and merged, and how:

- throughput: the wrk processes' requests/s added up (they run over the same 10 s);
- p50 and p99: of the wrk processes' latency distributions added up (create_order.lua prints
  wrk's own; for one instance the merged figures are wrk's);
- CPU per create: CPU seconds of every instance over the creates answered, beside the broker's
  and registry's and the whole machine's (busy seconds of all its cores), so what wrk and the
  rest took is the difference;
- forwarded: counted by the instances themselves, as every create-order their ``/metrics``
  counted in the run (read once the requests in flight at wrk's stop have been answered) less
  the creates the clients sent (create_order.lua prints them): a forwarded request is counted by
  the instance it reached and again by its owner. Beside it, the number the ownership table
  predicts for the orderIds each wrk sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bench import cpu, stack, wrk
from bench.stats import histogram_percentile
from bench.throughput import CONNECTIONS, WARM_UP_S
from shop.partitioning import partition_of

PARTITIONS = 6
COUNTS = (1, 2, 3)
GROUP_TIMEOUT_S = 120.0
# Starts of one instance before giving up (see _ready).
STARTS = 3
# How long the requests still in flight when a wrk stops take at most to be answered and counted.
SETTLE_S = 1.0
# Above what one instance answers here, to have enough orderIds for a direct run.
MAX_CREATES_PER_S = 5_000


@dataclasses.dataclass(frozen=True, slots=True)
class InstanceLoad:
    """One instance during the measured run."""

    owned: list[int]
    connections: int
    wrk: wrk.WrkResult
    sent: int  # requests its wrk sent: those answered and those in flight when it stopped
    cpu_s: float
    # create-order requests its /metrics counted: those sent to it and those forwarded to it.
    served: int
    # Of the orderIds its wrk sent, those of a partition another instance owns.
    predicted_forwarded: int


@dataclasses.dataclass(frozen=True, slots=True)
class GroupRun:
    instances: int
    # Each client sent only orders of partitions its instance owns, as a client or load balancer
    # that knows the table would: nothing is forwarded.
    direct: bool
    loads: list[InstanceLoad]
    requests: int  # answered, as wrk counts them
    sent: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    service_cpu_s: float
    broker_registry_cpu_s: float
    machine_busy_cpu_s: float  # all cores together, over the measured run
    wall_s: float
    forwarded: int
    predicted_forwarded: int
    # A group generation changed during the run (an instance lost or gained partitions).
    rebalanced: bool

    @property
    def cpu_us_per_request(self) -> float:
        return self.service_cpu_s / max(self.requests, 1) * 1e6

    @property
    def forwarded_share(self) -> float:
        return self.forwarded / max(self.sent, 1)

    @property
    def predicted_share(self) -> float:
        return self.predicted_forwarded / max(self.sent, 1)


@dataclasses.dataclass(frozen=True, slots=True)
class Instances:
    partitions: int
    connections: int
    runs: list[GroupRun]


@dataclasses.dataclass(frozen=True, slots=True)
class _Routing:
    """What one instance's ``/health`` says of the partitions."""

    healthy: bool
    stable: bool
    generation: int
    owned: frozenset[int]
    caught_up: frozenset[int]
    owners: dict[int, str]  # partition -> cart URL


async def run(data_dir: Path, duration_s: float, counts: tuple[int, ...] = COUNTS) -> Instances:
    """Every count of instances in turn, on the broker and registry of ``data_dir``."""
    await stack.dependencies(data_dir)
    runs = []
    for count in counts:
        runs += await _measure(data_dir, count, duration_s)
    return Instances(PARTITIONS, CONNECTIONS, runs)


async def _measure(data_dir: Path, count: int, duration_s: float) -> list[GroupRun]:
    """The run with the load spread over the instances, and with more than one, the run with
    each client sending only orders its instance owns."""
    name = f"bench-instances-{count}-{uuid.uuid4().hex[:6]}"
    settings = {"SHOP_TOPIC_PARTITIONS": str(PARTITIONS), "SHOP_CONSUMER_GROUP": name}
    services: list[stack.Service] = []

    async def start(number: int) -> None:
        log = data_dir / f"{name}-{number + 1}.log"
        service = await stack.start(data_dir, name, log, settings, apart=True)
        if number < len(services):
            services[number] = service
        else:
            services.append(service)

    try:
        # The first creates the topic; the others then join its group together.
        await start(0)
        await _ready(services, 0, start)
        for number in range(1, count):
            await start(number)
        for number in range(1, count):
            await _ready(services, number, start)
        routings = await _wait_group(services)
        shares = [CONNECTIONS // count + (number < CONNECTIONS % count) for number in range(count)]
        await _side_by_side(services, shares, f"warm-{uuid.uuid4().hex[:8]}", WARM_UP_S)
        runs = [await _load(data_dir, services, routings, shares, duration_s, direct=False)]
        if count > 1:
            runs.append(await _load(data_dir, services, routings, shares, duration_s, direct=True))
        return runs
    finally:
        for service in services:
            stack.stop(service)


async def _ready(
    services: list[stack.Service], number: int, start: Callable[[int], Awaitable[None]]
) -> None:
    """Wait until ``services[number]`` is ready; start it again if it exited on its way there,
    as it does when another process took one of its free ports before it bound it."""
    for attempt in range(1, STARTS + 1):
        try:
            await stack.wait_ready(services[number])
            return
        except stack.StackError:
            if services[number].process.poll() is None or attempt == STARTS:
                raise
            await start(number)


async def _load(
    data_dir: Path,
    services: list[stack.Service],
    routings: list[_Routing],
    shares: list[int],
    duration_s: float,
    direct: bool,
) -> GroupRun:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    listed: list[list[str]] = [[] for _ in services]
    files: list[Path | None] = [None for _ in services]
    if direct:
        for number, routing in enumerate(routings):
            listed[number] = _owned_ids(f"{prefix}-{number}-owned", routing.owned, duration_s)
            files[number] = path = data_dir / f"{prefix}-{number}.ids"
            path.write_text("\n".join(listed[number]) + "\n")
    # Requests in flight when a wrk stops are still answered (and counted): let them end.
    await asyncio.sleep(SETTLE_S)
    dependencies = await stack.dependencies(data_dir)
    served_before = [await _creates_counted(s) for s in services]
    cpu_before = [cpu.seconds(s.process.pid) for s in services]
    helpers_before, machine_before = dependencies.cpu_seconds(), cpu.machine_busy_seconds()
    started = time.monotonic()
    runs = await _side_by_side(services, shares, prefix, duration_s, files)
    wall_s = time.monotonic() - started
    machine_s = cpu.machine_busy_seconds() - machine_before
    helpers_s = dependencies.cpu_seconds() - helpers_before
    cpu_s = [
        cpu.seconds(s.process.pid) - before for s, before in zip(services, cpu_before, strict=True)
    ]
    await asyncio.sleep(SETTLE_S)
    served = [
        await _creates_counted(s) - before
        for s, before in zip(services, served_before, strict=True)
    ]
    after = await asyncio.gather(*(_routing(s) for s in services))
    loads = [
        InstanceLoad(
            owned=sorted(routing.owned),
            connections=connections,
            wrk=result,
            sent=sent.requests,
            cpu_s=cpu_s[number],
            served=served[number],
            predicted_forwarded=sum(
                partition_of(order_id.encode(), PARTITIONS) not in routing.owned
                for order_id in sent.order_ids(f"{prefix}-{number}", listed[number])
            ),
        )
        for number, (routing, connections, (result, sent)) in enumerate(
            zip(routings, shares, runs, strict=True)
        )
    ]
    latency_us: Counter[int] = sum((sent.latency_us for _, sent in runs), Counter())
    return GroupRun(
        instances=len(services),
        direct=direct,
        loads=loads,
        requests=sum(load.wrk.requests for load in loads),
        sent=sum(load.sent for load in loads),
        requests_per_s=sum(load.wrk.requests_per_s for load in loads),
        p50_ms=histogram_percentile(latency_us, 0.50) / 1000,
        p99_ms=histogram_percentile(latency_us, 0.99) / 1000,
        non_2xx=sum(load.wrk.non_2xx for load in loads),
        socket_errors=sum(load.wrk.socket_errors for load in loads),
        service_cpu_s=sum(cpu_s),
        broker_registry_cpu_s=helpers_s,
        machine_busy_cpu_s=machine_s,
        wall_s=wall_s,
        forwarded=sum(served) - sum(load.sent for load in loads),
        predicted_forwarded=sum(load.predicted_forwarded for load in loads),
        rebalanced=any(
            a is None or a.generation != b.generation for a, b in zip(after, routings, strict=True)
        ),
    )


def _owned_ids(prefix: str, owned: frozenset[int], duration_s: float) -> list[str]:
    """More orderIds of the ``owned`` partitions than one wrk can send in ``duration_s``."""
    wanted = int(duration_s * MAX_CREATES_PER_S) + CONNECTIONS
    ids: list[str] = []
    for counter in itertools.count(1):
        order_id = f"{prefix}-{counter}"
        if partition_of(order_id.encode(), PARTITIONS) in owned:
            ids.append(order_id)
            if len(ids) == wanted:
                return ids
    raise AssertionError("itertools.count() does not end")


async def _side_by_side(
    services: list[stack.Service],
    shares: list[int],
    prefix: str,
    duration_s: float,
    files: list[Path | None] | None = None,
) -> list[tuple[wrk.WrkResult, wrk.Sent]]:
    """One wrk per service at once, orderIds ``<prefix>-<instance>-<thread>-<counter>``, or those
    of its file (one a line) as long as they last."""
    files = files or [None for _ in services]
    return list(
        await asyncio.gather(
            *(
                asyncio.to_thread(
                    wrk.run_detailed,
                    service.cart_url,
                    f"{prefix}-{number}",
                    connections,
                    duration_s,
                    files[number],
                )
                for number, (service, connections) in enumerate(zip(services, shares, strict=True))
            )
        )
    )


async def _wait_group(services: list[stack.Service]) -> list[_Routing]:
    """Wait until the services are the whole group, stable: each healthy, showing the same table
    of every partition, owning exactly its part of it, caught up on all of it."""
    deadline = time.monotonic() + GROUP_TIMEOUT_S
    while True:
        routings = await asyncio.gather(*(_routing(s) for s in services))
        if _settled(services, routings):
            return [r for r in routings if r is not None]
        if time.monotonic() > deadline:
            logs = ", ".join(str(s.log_path) for s in services)
            raise stack.StackError(
                f"the group of {len(services)} did not settle within {GROUP_TIMEOUT_S:.0f} s "
                f"(last: {routings}); see {logs}"
            )
        await asyncio.sleep(stack.POLL_INTERVAL_S)


def _settled(services: list[stack.Service], routings: list[_Routing | None]) -> bool:
    if any(r is None or not r.healthy or not r.stable for r in routings):
        return False
    tables = [r.owners for r in routings if r is not None]
    if any(table != tables[0] for table in tables) or set(tables[0]) != set(range(PARTITIONS)):
        return False
    if set(tables[0].values()) != {s.cart_url for s in services}:
        return False
    for service, routing in zip(services, routings, strict=True):
        assert routing is not None
        mine = frozenset(p for p, url in routing.owners.items() if url == service.cart_url)
        if routing.owned != mine or not mine <= routing.caught_up:
            return False
    return True


async def _routing(service: stack.Service) -> _Routing | None:
    """The partitions as the orders port's ``/health`` shows them; None while it does not
    answer."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(f"{service.orders_url}/health") as response,
        ):
            body = await response.json()
    except (TimeoutError, aiohttp.ClientError, ValueError):
        return None
    partitions = body["partitions"]
    return _Routing(
        healthy=body["status"] == "healthy",
        stable=bool(partitions["stable"]),
        generation=int(partitions["generation"]),
        owned=frozenset(int(p) for p in partitions["owned"]),
        caught_up=frozenset(int(p) for p, done in partitions["caughtUp"].items() if done),
        owners={int(p): str(where["cart"]) for p, where in partitions["table"].items()},
    )


async def _creates_counted(service: stack.Service) -> int:
    """create-order requests the service's ``/metrics`` counted so far, whatever their status."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(f"{service.cart_url}/metrics") as response,
    ):
        text = await response.text()
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "shop_http_requests_total"
            and sample.labels.get("api") == "cart"
            and sample.labels.get("route") == "/create-order"
        )
    )
