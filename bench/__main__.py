"""``python -m bench``: run every measurement of bench/README.md and print the table."""

from __future__ import annotations

import argparse
import asyncio
import shutil
from pathlib import Path

from bench import e2e, machine, rebuild, report, stack, throughput, wrk

OUT_DIR = Path(__file__).parent / "out"
PARTS = ("echo", "create-order", "e2e", "rebuild")


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
    args = parser.parse_args()
    parts = set(args.only.split(","))
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {','.join(PARTS)}")
    events = [int(n) for n in args.events.split(",")]
    wrk.ensure_wrk()
    results = asyncio.run(run(parts, args.duration, args.rate, events))
    print(report.table(results))
    report.write_json(results, OUT_DIR / "results.json")
    print(f"\n(also in {OUT_DIR / 'results.json'})")


async def run(parts: set[str], duration_s: float, rate: int, events: list[int]) -> report.Results:
    shutil.rmtree(OUT_DIR / "data", ignore_errors=True)
    results = report.Results(machine.describe(), load_before=machine.load_average())
    if "echo" in parts:
        _progress("bare echo server (asyncio, then uvloop for reference)")
        results.echo = await throughput.measure_echo(duration_s)
        results.echo_uvloop = await throughput.measure_echo(duration_s, uvloop=True)
    if parts & {"create-order", "e2e"}:
        data_dir = OUT_DIR / "data" / "requests"
        service = stack.start(data_dir, "bench-requests", data_dir / "service.log")
        try:
            await stack.wait_ready(service)
            if "create-order" in parts:
                _progress("create-order under wrk")
                results.create_order = await asyncio.to_thread(
                    throughput.measure, service.cart_url, duration_s, service.process.pid
                )
            if "e2e" in parts:
                _progress(f"end to end at {rate} requests/s")
                results.e2e = await e2e.run(service.cart_url, service.orders_url, rate, duration_s)
        finally:
            stack.stop(service)
    if "rebuild" in parts:
        for count in events:
            _progress(f"rebuild, getAllOrderIdsFromTopic and memory with {count:,} events")
            results.rebuilds.append(await rebuild.run(count, OUT_DIR / "data"))
    results.load_after = machine.load_average()
    return results


def _progress(what: str) -> None:
    print(f"... {what}", flush=True)


if __name__ == "__main__":
    main()
