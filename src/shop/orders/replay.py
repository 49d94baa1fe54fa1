"""Dead letters for a person: list them, or put one back on its source topic.

    shop dead-letters list
    shop dead-letters replay 3

(``python -m shop.orders.replay [flags] list|replay N`` is the same command.) ``replay`` writes the
dead letter's key, value and original headers to the topic it came from, where the view reads it
again as a new record (after a fix of the view's rules, say); a record that still breaks them is
dead-lettered again.
"""

from __future__ import annotations

import sys
from typing import Any

from aiokafka import AIOKafkaProducer

from shop.kafka import bounded, close_quietly
from shop.orders.dead_letters import (
    ERROR,
    SOURCE_OFFSET,
    SOURCE_PARTITION,
    SOURCE_TOPIC,
    TIME,
    original_headers,
)
from shop.partition_reader import PartitionReader

TIMEOUT_S = 10.0


class NotReplayable(Exception):
    """There is no dead letter at that offset, or it names no topic to go back to."""


async def dead_letters(bootstrap: str, topic: str, timeout_s: float = TIMEOUT_S) -> list[Any]:
    """Every record of the (single-partition) dead-letter topic, in order."""
    async with PartitionReader.opened(bootstrap, topic, [0], timeout_s) as reader:
        return await reader.read_to(await reader.seek_back())


def describe(letter: Any) -> str:
    headers = {name: value.decode("utf-8", "replace") for name, value in letter.headers}
    key = letter.key.decode("utf-8", "replace") if letter.key is not None else "-"
    source = "{}-{}@{}".format(
        headers.get(SOURCE_TOPIC, "?"),
        headers.get(SOURCE_PARTITION, "?"),
        headers.get(SOURCE_OFFSET, "?"),
    )
    return f"{letter.offset}\t{headers.get(TIME, '?')}\t{key}\t{source}\t{headers.get(ERROR, '')}"


async def replay(bootstrap: str, topic: str, offset: int, timeout_s: float = TIMEOUT_S) -> str:
    """Put dead letter ``offset`` back on its source topic; where it landed."""
    letters = await dead_letters(bootstrap, topic, timeout_s)
    letter = next((r for r in letters if r.offset == offset), None)
    if letter is None:
        raise NotReplayable(f"{topic} has no record at offset {offset}")
    source = dict(letter.headers).get(SOURCE_TOPIC)
    if source is None:
        raise NotReplayable(f"the record at offset {offset} of {topic} names no source topic")
    # One record, sent once: no idempotence needed (and some test brokers lack it).
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        await bounded(producer.start(), timeout_s, f"connecting to {bootstrap}")
        landed = await bounded(
            producer.send_and_wait(
                source.decode(),
                letter.value,
                key=letter.key,
                headers=original_headers(letter.headers),
            ),
            timeout_s,
            f"replaying to {source.decode()}",
        )
    finally:
        await close_quietly(producer.stop(), timeout_s, "replay producer")
    return f"{landed.topic}-{landed.partition}@{landed.offset}"


if __name__ == "__main__":
    from shop.cli import main

    sys.exit(main(["dead-letters", *sys.argv[1:]]))
