"""``python -m bench``: run every measurement of bench/README.md and print the table."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from bench import (
    e2e,
    health_memory,
    instances,
    kafka_floor,
    machine,
    rebuild,
    report,
    scan_interference,
    stack,
    throughput,
    wrk,
)

OUT_DIR = Path(__file__).parent / "out"
PARTS = (
    "echo",
    "create-order",
    "kafka-floor",
    "e2e",
    "rebuild",
    "health-memory",
    "scan-interference",
    "instances",
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each wrk run")
    parser.add_argument("--rate", type=int, default=500, help="end-to-end requests per second")
    parser.add_argument(
        "--events", default="10000,100000", help="comma-separated event counts for the rebuild"
    )
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"comma-separated parts of {','.join(PARTS)}"
    )
    parser.add_argument(
        "--instances",
        default=",".join(map(str, instances.COUNTS)),
        help="comma-separated instance counts of the instances part",
    )
    parser.add_argument(
        "--broker",
        choices=stack.BROKERS,
        default="noida",
        help="noida: the embedded stack, as make run starts it; kafka: Apache Kafka (one node)",
    )
    args = parser.parse_args()
    stack.broker = args.broker
    parts = set(args.only.split(","))
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {','.join(PARTS)}")
    events = [int(n) for n in args.events.split(",")]
    counts = tuple(int(n) for n in args.instances.split(","))
    # The parts that drive wrk.
    if parts & {"echo", "create-order", "rebuild", "scan-interference", "instances"}:
        wrk.ensure_wrk()
    results = asyncio.run(run(parts, args.duration, args.rate, events, counts))
    print(report.table(results))
    report.write_json(results, OUT_DIR / "results.json")
    print(f"\n(also in {OUT_DIR / 'results.json'})")


async def run(
    parts: set[str], duration_s: float, rate: int, events: list[int], counts: tuple[int, ...]
) -> report.Results:
    try:
        return await _measure(parts, duration_s, rate, events, counts)
    finally:
        await stack.close()


async def _measure(
    parts: set[str], duration_s: float, rate: int, events: list[int], counts: tuple[int, ...]
) -> report.Results:
    shutil.rmtree(OUT_DIR / "data", ignore_errors=True)
    described = {**machine.describe(), "broker": stack.broker}
    results = report.Results(described, load_before=machine.load_average())
    if "echo" in parts:
        _progress("bare echo server (asyncio, then uvloop for reference)")
        results.echo = await throughput.measure_echo(duration_s)
        results.echo_uvloop = await throughput.measure_echo(duration_s, uvloop=True)
    if "create-order" in parts:
        _progress("create-order under wrk")
        async with _service("create-order") as service:
            results.create_order = await asyncio.to_thread(
                throughput.measure, service.cart_url, duration_s, service.process.pid
            )
    if "e2e" in parts:
        # A stack of its own: after the wrk run the view would still be reading its backlog.
        _progress(f"end to end at {rate} requests/s")
        async with _service("e2e") as service:
            results.e2e = await e2e.run(service.cart_url, service.orders_url, rate, duration_s)
    if "rebuild" in parts:
        for count in events:
            _progress(f"rebuild, getAllOrderIdsFromTopic and memory with {count:,} events")
            results.rebuilds.append(await rebuild.run(count, OUT_DIR / "data"))
    if "health-memory" in parts:
        _progress(f"service RSS over {health_memory.CALLS:,} GET /health")
        async with _service("health-memory") as service:
            results.health_memory = await health_memory.run(service)
    if "scan-interference" in parts:
        _progress(
            f"create-order at {scan_interference.RATE_PER_S}/s beside getAllOrderIdsFromTopic "
            f"scans of {scan_interference.ORDERS:,} orders"
        )
        results.scan_interference = await scan_interference.run(OUT_DIR / "data", duration_s)
    if "instances" in parts:
        _progress(
            f"create-order with {', '.join(map(str, counts))} instances in one consumer group "
            f"({instances.PARTITIONS} partitions, one wrk per instance)"
        )
        results.instances = await instances.run(OUT_DIR / "data" / "instances", duration_s, counts)
    if "kafka-floor" in parts:
        # Last: its broker and registry stay up until the end of the run.
        _progress("aiokafka alone: 64 senders and a read-back consumer, as a create uses them")
        results.kafka_floor = await kafka_floor.run(OUT_DIR / "data" / "kafka-floor")
    results.load_after = machine.load_average()
    return results


@contextlib.asynccontextmanager
async def _service(name: str) -> AsyncIterator[stack.Service]:
    """The service on a data directory and topic of its own, ready."""
    data_dir = OUT_DIR / "data" / name
    service = await stack.start(data_dir, f"bench-{name}", data_dir / "service.log")
    try:
        await stack.wait_ready(service)
        yield service
    finally:
        stack.stop(service)


def _progress(what: str) -> None:
    print(f"... {what}", flush=True)


if __name__ == "__main__":
    main()
