"""What aiokafka alone costs per record, as the service uses it: the floor under create-order.

``python -m bench.kafka_floor --bootstrap HOST:PORT`` (the benchmark runs it in a process of its
own, on a broker of its own): 64 tasks, as many as wrk's connections, each sending one record
(acks=all, idempotent, linger 2 ms, 230 bytes, as a create's event) and waiting for its
acknowledgement, while a consumer in the same process reads every record back and commits after
each batch (the order view did so until it moved to once a second: the floor keeps its earlier
figures comparable and is now a little above the view's own part). No HTTP, no Avro, no order:
the CPU per record it prints is what the Kafka part of a create costs at best, with batches as
large as 64 senders make them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import stack
from shop.kafka import KafkaAdmin

SENDERS = 64
VALUE_BYTES = 230


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(bootstrap: str, records: int) -> dict[str, float]:
    topic = f"floor-{uuid.uuid4().hex[:8]}"
    async with KafkaAdmin.running(bootstrap, 30) as admin:
        await admin.ensure_topic(topic, 1)
    producer: Any = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2
    )
    consumer: Any = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=topic,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await producer.start()
    await consumer.start()
    read = 0
    wanted = 0
    read_enough = asyncio.Event()

    async def read_back() -> None:
        nonlocal read
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=1_000)
            for tp, batch in batches.items():
                read += len(batch)
                await consumer.commit({tp: batch[-1].offset + 1})
            if read >= wanted:
                read_enough.set()

    async def read_up_to(count: int) -> None:
        """Until ``count`` records were read back; the reader's error if it fails first."""
        nonlocal wanted
        wanted = count
        read_enough.clear()
        if read >= count:
            return
        enough = asyncio.ensure_future(read_enough.wait())
        done, _ = await asyncio.wait({reader, enough}, return_when=asyncio.FIRST_COMPLETED)
        if reader in done:
            enough.cancel()
            reader.result()

    value = os.urandom(VALUE_BYTES)
    numbers = iter(range(records))

    async def sender() -> None:
        for number in numbers:
            delivery = await producer.send(topic, value, key=f"ORDER-{number}".encode())
            await delivery

    reader = asyncio.create_task(read_back())
    try:
        for _ in range(200):  # warm-up: connections, metadata, the producer id
            await (await producer.send(topic, value, key=b"warm-up"))
        await read_up_to(200)
        started, cpu_before = time.monotonic(), _cpu_s()
        await asyncio.gather(*(sender() for _ in range(SENDERS)))
        await read_up_to(records + 200)
        seconds, cpu_s = time.monotonic() - started, _cpu_s() - cpu_before
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await consumer.stop()
        await producer.stop()
    return {
        "records": records,
        "seconds": round(seconds, 3),
        "records_per_s": round(records / seconds, 1),
        "cpu_us_per_record": round(cpu_s / records * 1e6, 1),
    }


async def run(data_dir: Path) -> dict[str, float]:
    """The measurement in a process of its own (its CPU alone), on the broker of ``data_dir``."""
    bootstrap = (await stack.dependencies(data_dir)).settings["SHOP_KAFKA_BOOTSTRAP_SERVERS"]
    argv = [sys.executable, "-m", "bench.kafka_floor", "--bootstrap", bootstrap]
    finished = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=300
    )
    if finished.returncode != 0:
        raise RuntimeError(f"bench.kafka_floor failed:\n{finished.stderr[-2000:]}")
    measured: dict[str, float] = json.loads(finished.stdout)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kafka_floor", description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--records", type=int, default=30_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.bootstrap, args.records))))


if __name__ == "__main__":
    main()
