"""The order view rebuilt from the topic at start-up, ``getAllOrderIdsFromTopic``, and memory.

The topic is filled with N orders through the service's own API (wrk, one event per order). The
rebuild time is the time from spawning the service until ``/health`` reports the view caught up
with N orders, minus the same start-up with the same data directory on an empty topic: what is
left is reading and applying the N events. The service's own log gives the same span directly
(servicelog.py), which a busy machine blurs less. Starts alternate between the two topics and the
fastest of each counts, since start-up times are noisy on a busy machine; a difference below
RESOLUTION_S is reported as unresolved rather than as a made-up rate.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from pathlib import Path

import aiohttp

from bench import cpu, servicelog, stack, wrk
from bench.stats import percentile

# Below this a difference of two start-ups is noise: two polls of /health.
RESOLUTION_S = 2 * stack.POLL_INTERVAL_S

FULL_TOPIC = "bench-orders"
EMPTY_TOPIC = "bench-empty"


@dataclasses.dataclass(frozen=True, slots=True)
class RebuildResult:
    events: int
    fill_per_s: float
    startup_empty_s: float
    startup_full_s: float
    rebuild_s: float
    # CPU seconds of the service process to start on the full topic, less on the empty one:
    # what the rebuild costs, so events over it is the rate one free core would give.
    rebuild_cpu_s: float
    # The fastest rebuild as the service logged it (see servicelog.py); None when not logged.
    logged_rebuild_s: float | None
    get_all_s: float
    rss_empty_bytes: int
    rss_full_bytes: int
    stack_children_rss_bytes: int


async def run(
    events: int, out_dir: Path, starts: int = 3, get_all_repeats: int = 3
) -> RebuildResult:
    data_dir = out_dir / f"rebuild-{events}"
    fill_per_s = await _fill(data_dir, events)
    empty_s: list[float] = []
    full_s: list[float] = []
    empty_cpu_s: list[float] = []
    full_cpu_s: list[float] = []
    logged_s: list[float] = []
    rss_empty: list[int] = []
    rss_full: list[int] = []
    get_all_s: list[float] = []
    children_rss = 0
    for start in range(starts):
        log = data_dir / f"service-empty-{start}.log"
        service = await stack.start(data_dir, EMPTY_TOPIC, log)
        try:
            empty_s.append(await stack.wait_ready(service) - service.started_at)
            empty_cpu_s.append(cpu.seconds(service.process.pid))
            rss_empty.append(service.rss_bytes())
        finally:
            stack.stop(service)
        log = data_dir / f"service-full-{start}.log"
        service = await stack.start(data_dir, FULL_TOPIC, log)
        try:
            full_s.append(await stack.wait_ready(service, events) - service.started_at)
            full_cpu_s.append(cpu.seconds(service.process.pid))
            logged = servicelog.rebuild_seconds(service.log_path)
            if logged is not None:
                logged_s.append(logged)
            rss_full.append(service.rss_bytes())
            children_rss = service.children_rss_bytes()
            for _ in range(get_all_repeats):
                get_all_s.append(await _time_get_all(service, events))
        finally:
            stack.stop(service)
    rebuild_s = min(full_s) - min(empty_s)
    rebuild_cpu_s = min(full_cpu_s) - min(empty_cpu_s)
    return RebuildResult(
        events=events,
        fill_per_s=fill_per_s,
        startup_empty_s=min(empty_s),
        startup_full_s=min(full_s),
        rebuild_s=rebuild_s,
        rebuild_cpu_s=rebuild_cpu_s,
        logged_rebuild_s=min(logged_s) if logged_s else None,
        get_all_s=percentile(get_all_s, 0.5),
        rss_empty_bytes=min(rss_empty),
        rss_full_bytes=min(rss_full),
        stack_children_rss_bytes=children_rss,
    )


async def _fill(data_dir: Path, events: int) -> float:
    """Create ``events`` orders on the full topic; return the rate wrk achieved."""
    service = await stack.start(data_dir, FULL_TOPIC, data_dir / "service-fill.log")
    try:
        await stack.wait_ready(service)
        prefix = f"fill-{uuid.uuid4().hex[:8]}"
        result = await asyncio.to_thread(wrk.fill, service.cart_url, prefix, events)
        # wrk stops once it has seen as many 201s as orders asked for; the view's count checks it.
        await stack.wait_ready(service, events)
        found = await stack.order_count(service)
        if found != events:
            raise stack.StackError(f"asked for {events} orders, the view holds {found}")
        return events / result.seconds
    finally:
        stack.stop(service)


async def _time_get_all(service: stack.Service, events: int) -> float:
    url = f"{service.orders_url}/getAllOrderIdsFromTopic"
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        began = time.monotonic()
        async with session.get(url, params={"topic": FULL_TOPIC}) as response:
            body = await response.json()
        elapsed = time.monotonic() - began
    if response.status != 200 or body.get("count") != events:
        raise stack.StackError(
            f"getAllOrderIdsFromTopic answered {response.status} with count "
            f"{body.get('count')}, not {events}"
        )
    return elapsed
