"""Instructions per create: the service's own work, counted by valgrind instead of timed.

CPU seconds per request on these shared 2-core machines vary by 15-30 % between runs of the same
code (the echo's own CPU per request ranged from 60 to 115 µs), so a change worth a few per cent
takes many runs to show. Callgrind counts the instructions the service process executes; the same
code gives the same count within about 2 % (measured; a busier machine makes batches a little
smaller, and aiokafka's protocol work per create a little larger), so one run shows such a
change. It counts instructions, not time: no cache misses, no system calls, nothing the broker
does. It is a proxy for what our Python code and its libraries do per request, beside ``python -m
bench``'s CPU figures, never instead of them.

``python -m bench.instructions [--duration 30]``: the service on the embedded stack, as ``make
run`` starts it, runs under ``valgrind --tool=callgrind`` (about 40 times slower), is warmed up,
then counted while wrk sends creates; the bare echo is counted the same way, for the ratio. Needs
valgrind (Debian's package). Counting starts once the warm-up's creates are done and stops once
the counted ones are; the few ``/health`` calls that tell it cost under 1 % of the count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from bench import stack, throughput, wrk

OUT_DIR = Path(__file__).parent / "out"
# As in the throughput runs: how many records share a produce request and a fetch (aiokafka's
# protocol work per create) depends on how many creates are in flight.
CONNECTIONS = 64
WARM_UP_S = 15.0
# Under valgrind everything takes about 40 times as long, the broker's answers included.
SERVICE_TIMEOUT_S = "60"
# Long enough, under valgrind, for a create in flight to reach the view.
SETTLE_S = 2.0


@dataclasses.dataclass(frozen=True, slots=True)
class Count:
    requests: int
    instructions: int

    @property
    def per_request(self) -> int:
        return self.instructions // max(self.requests, 1)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds counted")
    parser.add_argument("--no-echo", action="store_true", help="count the service only")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        parser.error("valgrind is not installed: apt-get install valgrind")
    wrk.ensure_wrk()
    counts = {"create_order": asyncio.run(count_service(args.duration))}
    if not args.no_echo:
        counts["echo"] = count_echo(args.duration)
    for name, count in counts.items():
        print(
            f"{name}: {count.per_request:,} instructions per request ({count.requests:,} counted)"
        )
    if "echo" in counts:
        ratio = counts["create_order"].per_request / counts["echo"].per_request
        print(f"create-order / echo: {ratio:.2f}")
    OUT_DIR.mkdir(exist_ok=True)
    out = OUT_DIR / "instructions.json"
    out.write_text(
        json.dumps(
            {
                name: {**dataclasses.asdict(c), "per_request": c.per_request}
                for name, c in counts.items()
            },
            indent=2,
        )
    )
    print(f"(also in {out})")


def _callgrind(out_file: Path) -> list[str]:
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out_file}",
        "--log-file=/dev/null",
    ]


def _instrument(pid: int, on: bool) -> None:
    subprocess.run(
        ["callgrind_control", "-i", "on" if on else "off", str(pid)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _totals(out_file: Path) -> int:
    """The instructions counted while instrumentation was on (callgrind's ``totals:`` line)."""
    if not out_file.exists():
        raise RuntimeError(f"valgrind wrote no {out_file}: the process was killed, not stopped")
    for line in out_file.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {out_file}")


async def count_service(duration_s: float) -> Count:
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        data_dir, out_file = Path(tmp) / "data", Path(tmp) / "callgrind.out"
        service = await stack.start(
            data_dir,
            "bench-instructions",
            data_dir / "service.log",
            {"SHOP_REQUEST_TIMEOUT_S": SERVICE_TIMEOUT_S},
            wrapper=_callgrind(out_file),
        )
        try:
            await stack.wait_ready(service, timeout_s=600)
            prefix = uuid.uuid4().hex[:8]
            await asyncio.to_thread(_load, service.cart_url, f"warm-{prefix}", WARM_UP_S)
            before = await _settled_orders(service)
            _instrument(service.process.pid, on=True)
            await asyncio.to_thread(_load, service.cart_url, f"count-{prefix}", duration_s)
            # The creates wrk left in flight are finished, and counted whole.
            created = await _settled_orders(service) - before
            _instrument(service.process.pid, on=False)
        finally:
            stack.stop(service, grace_s=120)
        return Count(created, _totals(out_file))


async def _settled_orders(service: stack.Service) -> int:
    """The view's order count once the creates in flight are done: every order it holds was
    answered 201 (the writer waits for the view), and no create is still being written."""
    count = await _order_count(service)
    while True:
        await asyncio.sleep(SETTLE_S)
        count, previous = await _order_count(service), count
        if count == previous:
            return count


async def _order_count(service: stack.Service, attempts: int = 10) -> int:
    """``/health``'s order count; under valgrind an answer can take longer than its timeout."""
    for _ in range(attempts - 1):
        with contextlib.suppress(stack.StackError):
            return await stack.order_count(service)
    return await stack.order_count(service)


def _load(url: str, prefix: str, duration_s: float) -> wrk.WrkResult:
    return wrk.run(url, wrk.CREATE_ORDER, [prefix], CONNECTIONS, duration_s, timeout_s=30)


def count_echo(duration_s: float) -> Count:
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        out_file = Path(tmp) / "callgrind.out"
        server = throughput.echo_server(wrapper=_callgrind(out_file), listen_timeout_s=120)
        with server as (url, pid):
            _load(url, "warm", WARM_UP_S)
            _instrument(pid, on=True)
            answered = _load(url, "count", duration_s).requests
            _instrument(pid, on=False)
        return Count(answered, _totals(out_file))


if __name__ == "__main__":
    main()
