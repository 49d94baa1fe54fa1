"""Resident memory of the service before and after 10,000 ``GET /health`` calls.

A health probe must cost little and leave nothing behind: a load balancer polls it forever. The
calls alternate between the two ports, a few at a time, after a warm-up; RSS is read (psutil) from
the service process alone, once the warm-up is done and once the last call has answered.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import aiohttp

from bench import stack

CALLS = 10_000
WARM_UP_CALLS = 200
CONCURRENCY = 8


@dataclasses.dataclass(frozen=True, slots=True)
class HealthMemory:
    calls: int
    rss_before_bytes: int
    rss_after_bytes: int
    seconds: float
    not_200: int


async def run(service: stack.Service, calls: int = CALLS) -> HealthMemory:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        await _calls(session, service, WARM_UP_CALLS)
        before = service.rss_bytes()
        started = time.monotonic()
        not_200 = await _calls(session, service, calls)
        seconds = time.monotonic() - started
        after = service.rss_bytes()
    return HealthMemory(calls, before, after, seconds, not_200)


async def _calls(session: aiohttp.ClientSession, service: stack.Service, calls: int) -> int:
    """Make ``calls`` health calls, ``CONCURRENCY`` at a time; how many did not answer 200."""
    urls = [f"{service.cart_url}/health", f"{service.orders_url}/health"]

    async def worker(first: int) -> int:
        failed = 0
        for call in range(first, calls, CONCURRENCY):
            async with session.get(urls[call % 2]) as response:
                await response.read()
                failed += response.status != 200
        return failed

    return sum(await asyncio.gather(*(worker(first) for first in range(CONCURRENCY))))
