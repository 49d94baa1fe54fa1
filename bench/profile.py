"""Where the time goes: ``python -m bench.profile {create-order,e2e,rebuild}``.

Starts the stack as the benchmark does, attaches py-spy to the service (sampling from outside,
without slowing it down much), drives the same load, and prints the functions with the most
samples and the CPU seconds each process of the stack used. The collapsed stacks are kept in
``bench/out/profile-<part>.txt`` (open them in speedscope or inferno). py-spy is not a dependency
of the service: ``pip install py-spy`` first.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psutil

from bench import e2e, stack, wrk
from bench.rebuild import EMPTY_TOPIC, FULL_TOPIC
from bench.rebuild import _fill as fill_topic

OUT_DIR = Path(__file__).parent / "out"
TOP = 25

# Where a sample goes: the first area with a frame containing one of its markers.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Avro encode", ("OrderEventCodec.encode",)),
    (
        "order and event building (random ids, Decimal)",
        ("shop/order.py", "shop/events.py", "shop/money.py"),
    ),
    ("writer (lock, store)", ("OrderWriter", "shop/store.py")),
    ("view consumer (decode, apply)", ("OrderViewConsumer", "decode_batch")),
    ("aiokafka producer", ("aiokafka/producer",)),
    ("aiokafka consumer", ("aiokafka/consumer",)),
    ("aiokafka connection and protocol", ("aiokafka/",)),
    ("request parsing, JSON answers", ("shop/cart/requests", "shop/render.py", "msgspec")),
    ("aiohttp", ("aiohttp/",)),
    ("asyncio event loop", ("asyncio/", "selectors.py")),
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("part", choices=["create-order", "e2e", "rebuild"])
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--events", type=int, default=100_000, help="events for rebuild")
    args = parser.parse_args()
    # A venv's scripts are beside its python, whether or not the venv is on PATH.
    py_spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if py_spy is None:
        parser.error("py-spy is not installed: pip install py-spy")
    asyncio.run(profile(py_spy, args.part, args.duration, args.events))


async def profile(py_spy: str, part: str, duration_s: float, events: int) -> None:
    data_dir = OUT_DIR / "data" / f"profile-{part}"
    shutil.rmtree(data_dir, ignore_errors=True)
    if part == "rebuild":
        await fill_topic(data_dir, events)
    topic = FULL_TOPIC if part == "rebuild" else EMPTY_TOPIC
    service = await stack.start(data_dir, topic, data_dir / "service.log")
    samples = OUT_DIR / f"profile-{part}.txt"
    recorder: subprocess.Popen[bytes] | None = None
    try:
        cpu: dict[str, float] = {}
        if part == "rebuild":
            # From the spawn on: start-up (imports, children) is in the samples, and the rest is
            # reading the topic.
            recorder = _record(py_spy, service.process.pid, samples)
            await stack.wait_ready(service, events)
        else:
            await stack.wait_ready(service)
            recorder = _record(py_spy, service.process.pid, samples)
            cpu = await _load(service, part, duration_s)
    finally:
        if recorder is not None:
            recorder.send_signal(signal.SIGINT)
            recorder.wait(timeout=60)
        stack.stop(service)
    print(summary(samples.read_text()))
    for name, seconds in cpu.items():
        print(f"CPU during the load: {name} {seconds:.1f} s")
    print(f"\ncollapsed stacks in {samples}")


def _record(py_spy: str, pid: int, output: Path) -> subprocess.Popen[bytes]:
    argv = [
        py_spy,
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--output",
        str(output),
        "--rate",
        "250",
        "--nonblocking",
    ]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _load(service: stack.Service, part: str, duration_s: float) -> dict[str, float]:
    """Run the load; return the CPU seconds the service, broker and registry used meanwhile."""
    processes = {"service": psutil.Process(service.process.pid)}
    for child in processes["service"].children(recursive=True):
        processes[child.name()] = child
    before = {name: sum(p.cpu_times()[:2]) for name, p in processes.items()}
    if part == "create-order":
        url, prefix = service.cart_url, f"profile-{uuid.uuid4().hex[:8]}"
        result: object = await asyncio.to_thread(
            wrk.run, url, wrk.CREATE_ORDER, [prefix], 64, duration_s
        )
    else:
        result = await e2e.run(service.cart_url, service.orders_url, 500, duration_s)
    print(result)
    return {name: sum(p.cpu_times()[:2]) - before[name] for name, p in processes.items()}


def summary(collapsed: str) -> str:
    """The functions with the most samples, inclusive (anywhere on the stack) and on top."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text:
            continue
        count = int(count_text)
        frames = stack_text.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "\nby area:"]
    for area, count in _areas(collapsed).most_common():
        lines.append(f"{100 * count / max(total, 1):5.1f}%  {area}")
    for title, counter in (("inclusive", inclusive), ("own", own)):
        lines.append(f"\n{title}:")
        for frame, count in counter.most_common(TOP):
            lines.append(f"{100 * count / max(total, 1):5.1f}%  {frame}")
    return "\n".join(lines)


def _areas(collapsed: str) -> collections.Counter[str]:
    areas: collections.Counter[str] = collections.Counter()
    for line in collapsed.splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text:
            continue
        area = next(
            (name for name, markers in AREAS if any(m in stack_text for m in markers)), "other"
        )
        areas[area] += int(count_text)
    return areas


if __name__ == "__main__":
    main()
