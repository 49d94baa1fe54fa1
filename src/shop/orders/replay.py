"""``python -m shop.orders.replay``: list the dead letters, or put one back on its source topic.

    python -m shop.orders.replay --bootstrap-servers 127.0.0.1:9092 list
    python -m shop.orders.replay --bootstrap-servers 127.0.0.1:9092 replay 3

``replay`` writes the dead letter's key, value and original headers to the topic it came from,
where the view reads it again as a new record (after a fix of the view's rules, say); a record
that still breaks them is dead-lettered again.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from shop.orders.dead_letters import ERROR, SOURCE_OFFSET, SOURCE_PARTITION, SOURCE_TOPIC, TIME
from shop.orders.dead_letters import original_headers


async def dead_letters(bootstrap: str, topic: str) -> list[Any]:
    """Every record of the (single-partition) dead-letter topic, in order."""
    # earliest: a reset racing seek_to_beginning after assign() must not land at the end.
    consumer: Any = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        await consumer.seek_to_beginning(tp)
        found: list[Any] = []
        while await consumer.position(tp) < end:
            found += (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        return found
    finally:
        await consumer.stop()


def describe(letter: Any) -> str:
    headers = {name: value.decode("utf-8", "replace") for name, value in letter.headers}
    key = letter.key.decode("utf-8", "replace") if letter.key is not None else "-"
    source = "{}-{}@{}".format(
        headers.get(SOURCE_TOPIC, "?"), headers.get(SOURCE_PARTITION, "?"), headers.get(SOURCE_OFFSET, "?")
    )
    return f"{letter.offset}\t{headers.get(TIME, '?')}\t{key}\t{source}\t{headers.get(ERROR, '')}"


async def replay(bootstrap: str, topic: str, offset: int) -> str:
    """Put dead letter ``offset`` back on its source topic; where it landed."""
    letter = next((r for r in await dead_letters(bootstrap, topic) if r.offset == offset), None)
    if letter is None:
        raise SystemExit(f"replay: {topic} has no record at offset {offset}")
    source = dict(letter.headers).get(SOURCE_TOPIC)
    if source is None:
        raise SystemExit(f"replay: the record at offset {offset} names no source topic")
    # One record, sent once: no idempotence needed (and some test brokers lack it).
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        landed = await producer.send_and_wait(
            source.decode(), letter.value, key=letter.key, headers=original_headers(letter.headers)
        )
    finally:
        await producer.stop()
    return f"{landed.topic}-{landed.partition}@{landed.offset}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shop.orders.replay", description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap-servers", default="127.0.0.1:9092")
    parser.add_argument("--dead-letter-topic", default="order-events.dlq")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="offset, time, key, source and reason of each dead letter")
    again = commands.add_parser("replay", help="put one dead letter back on its source topic")
    again.add_argument("offset", type=int)
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for letter in asyncio.run(dead_letters(args.bootstrap_servers, args.dead_letter_topic)):
                print(describe(letter))
        else:
            where = asyncio.run(replay(args.bootstrap_servers, args.dead_letter_topic, args.offset))
            print(f"replayed dead letter {args.offset} to {where}")
    except KafkaError as exc:
        print(f"replay: Kafka at {args.bootstrap_servers} failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
