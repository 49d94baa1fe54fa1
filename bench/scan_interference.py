"""Whether ``GET /getAllOrderIdsFromTopic`` scans stall writes.

The order topic is filled with 60,000 orders (wrk with fill_orders.lua, as for the rebuild). The
service is then started on it and, once caught up, creates go out on a fixed schedule (open loop,
as in e2e.py: 100 a second for 10 s; latency from the moment each was due to its 201), first
alone, then while 8 clients ask for every order id of the order topic back to back for the whole
window. A client answered 429 asks again after RETRY_429_S, sooner than the Retry-After says, so
every scan slot stays taken. The service's RSS (psutil, the process alone) is read before the
loaded window, every RSS_INTERVAL_S during it (the peak), and once the last scan has answered.

The whole runs once with the service's default ``SHOP_SCAN_CONCURRENCY`` and once with 8, which
admits every scan and leaves only the reading in batches between the scans and the writes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp

from bench import cpu, stack
from bench.rebuild import FULL_TOPIC
from bench.rebuild import _fill as fill_topic
from bench.stats import percentile

ORDERS = 60_000
RATE_PER_S = 100
SCANNERS = 8
RETRY_429_S = 0.1
RSS_INTERVAL_S = 0.1
# The scans are under way before the first create is due.
SCAN_LEAD_S = 1.0
WARM_UP_S = 1.0
CREATE_TIMEOUT_S = 30.0
SCAN_TIMEOUT_S = 120.0
# None: the service's own default (2).
CONCURRENCIES: tuple[int | None, ...] = (None, 8)

# The count and the partial flag close the answer; only its tail is parsed, so that decoding a
# megabyte of ids does not hold up the client's schedule of creates.
_COUNT = re.compile(rb'"count":\s*(\d+)')
_PARTIAL = re.compile(rb'"partial":\s*true')


@dataclasses.dataclass(frozen=True, slots=True)
class Creates:
    answered: int  # 201s
    failed: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    service_cpu_s: float  # CPU seconds of the service process over the window


@dataclasses.dataclass(frozen=True, slots=True)
class Scans:
    statuses: dict[str, int]  # HTTP status (or "error") to how many answers
    partial: int  # 200s that said "partial": true
    fewest_ids: int  # smallest count among the 200s
    p50_s: float  # durations of the 200s
    max_s: float
    max_429_ms: float  # slowest refusal


@dataclasses.dataclass(frozen=True, slots=True)
class Run:
    scan_concurrency: int | None  # None: the service's default
    alone: Creates
    loaded: Creates
    scans: Scans
    rss_before_bytes: int
    rss_peak_bytes: int
    rss_after_bytes: int


@dataclasses.dataclass(frozen=True, slots=True)
class ScanInterference:
    orders: int
    fill_per_s: float
    rate_per_s: int
    seconds: float
    scanners: int
    runs: list[Run]


async def run(out_dir: Path, seconds: float = 10.0) -> ScanInterference:
    data_dir = out_dir / "scan-interference"
    fill_per_s = await fill_topic(data_dir, ORDERS)
    runs = []
    for concurrency in CONCURRENCIES:
        settings = {} if concurrency is None else {"SHOP_SCAN_CONCURRENCY": str(concurrency)}
        log = data_dir / f"service-scans-{concurrency or 'default'}.log"
        service = await stack.start(data_dir, FULL_TOPIC, log, settings)
        try:
            await stack.wait_ready(service, ORDERS)
            runs.append(await _run(service, concurrency, seconds))
        finally:
            stack.stop(service)
    return ScanInterference(ORDERS, fill_per_s, RATE_PER_S, seconds, SCANNERS, runs)


async def _run(service: stack.Service, concurrency: int | None, seconds: float) -> Run:
    connector = aiohttp.TCPConnector(limit=512)
    timeout = aiohttp.ClientTimeout(total=CREATE_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        prefix = f"scan-{uuid.uuid4().hex[:8]}"
        await _creates(session, service, f"{prefix}-warm", WARM_UP_S)
        alone = await _creates(session, service, f"{prefix}-alone", seconds)
        rss_before = service.rss_bytes()
        stop = asyncio.Event()
        rss_peak = asyncio.create_task(_rss_peak(service, stop))
        scans = _ScanSamples()
        scanners = [asyncio.create_task(scans.scan(service, stop)) for _ in range(SCANNERS)]
        await asyncio.sleep(SCAN_LEAD_S)
        loaded = await _creates(session, service, f"{prefix}-loaded", seconds)
        stop.set()
        await asyncio.gather(*scanners)
        peak = await rss_peak
    return Run(concurrency, alone, loaded, scans.summary(), rss_before, peak, service.rss_bytes())


async def _creates(
    session: aiohttp.ClientSession, service: stack.Service, prefix: str, seconds: float
) -> Creates:
    """``RATE_PER_S`` creates a second for ``seconds``, each sent when due whatever the others do;
    latency from when it was due to its 201."""
    url = f"{service.cart_url}/create-order"
    latencies_ms: list[float] = []
    failures: list[str] = []

    async def create(order_id: str, due: float) -> None:
        try:
            async with session.post(url, json={"orderId": order_id, "itemsCount": 2}) as response:
                await response.read()
        except (TimeoutError, aiohttp.ClientError) as error:
            failures.append(type(error).__name__)
            return
        if response.status == 201:
            latencies_ms.append((time.monotonic() - due) * 1000)
        else:
            failures.append(str(response.status))

    cpu_before = cpu.seconds(service.process.pid)
    start = time.monotonic()
    tasks = []
    for index in range(int(RATE_PER_S * seconds)):
        due = start + index / RATE_PER_S
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        tasks.append(asyncio.create_task(create(f"{prefix}-{index}", due)))
    await asyncio.gather(*tasks)
    return Creates(
        answered=len(latencies_ms),
        failed=len(failures),
        p50_ms=percentile(latencies_ms, 0.50),
        p99_ms=percentile(latencies_ms, 0.99),
        max_ms=max(latencies_ms, default=float("nan")),
        service_cpu_s=cpu.seconds(service.process.pid) - cpu_before,
    )


async def _rss_peak(service: stack.Service, stop: asyncio.Event) -> int:
    """The largest RSS of the service seen every ``RSS_INTERVAL_S`` until ``stop``."""
    peak = service.rss_bytes()
    while not stop.is_set():
        await asyncio.sleep(RSS_INTERVAL_S)
        peak = max(peak, service.rss_bytes())
    return peak


@dataclasses.dataclass(slots=True)
class _ScanSamples:
    statuses: Counter[str] = dataclasses.field(default_factory=Counter)
    durations_s: list[float] = dataclasses.field(default_factory=list)
    refusals_ms: list[float] = dataclasses.field(default_factory=list)
    counts: list[int] = dataclasses.field(default_factory=list)
    partial: int = 0

    async def scan(self, service: stack.Service, stop: asyncio.Event) -> None:
        """One client: scan the order topic again and again until ``stop``."""
        url = f"{service.orders_url}/getAllOrderIdsFromTopic"
        timeout = aiohttp.ClientTimeout(total=SCAN_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not stop.is_set():
                began = time.monotonic()
                try:
                    async with session.get(url, params={"topic": FULL_TOPIC}) as response:
                        body = await response.read()
                except (TimeoutError, aiohttp.ClientError):
                    self.statuses["error"] += 1
                    await asyncio.sleep(RETRY_429_S)
                    continue
                elapsed = time.monotonic() - began
                self.statuses[str(response.status)] += 1
                if response.status == 429:
                    self.refusals_ms.append(elapsed * 1000)
                    await asyncio.sleep(RETRY_429_S)
                elif response.status == 200:
                    self.durations_s.append(elapsed)
                    count = _COUNT.search(body[-256:])
                    self.counts.append(int(count.group(1)) if count else -1)
                    self.partial += _PARTIAL.search(body[-256:]) is not None

    def summary(self) -> Scans:
        return Scans(
            statuses=dict(sorted(self.statuses.items())),
            partial=self.partial,
            fewest_ids=min(self.counts, default=0),
            p50_s=percentile(self.durations_s, 0.50),
            max_s=max(self.durations_s, default=float("nan")),
            max_429_ms=max(self.refusals_ms, default=0.0),
        )
