"""An idle consumer does not spin on a broker that answers empty fetches at once (noida-db)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shop.idle_fetch import IDLE_FETCH_PAUSE_S, pause_after_empty_fetches
from shop.kafka import KafkaAdmin
from tests.waiting import unique

WINDOW_S = 1.0


async def fetches_while_idle(bootstrap_servers: str, pause: bool) -> int:
    """How many fetches a consumer at the end of an empty topic sends in WINDOW_S."""
    topic = unique("idle")
    async with KafkaAdmin.running(bootstrap_servers, 10) as admin:
        await admin.ensure_topic(topic, 1)
    consumer: Any = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    if pause:
        pause_after_empty_fetches(consumer)
    fetches = 0
    send = consumer._client.send

    async def counting_send(node_id: int, request: Any, **kwargs: Any) -> Any:
        nonlocal fetches
        fetches += request.API_KEY == 1
        return await send(node_id, request, **kwargs)

    consumer._client.send = counting_send
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.getmany(timeout_ms=200)  # fetching has begun
        before = fetches
        # The window is the measurement itself (fetches per second), not a wait for a condition.
        await asyncio.sleep(WINDOW_S)
        return fetches - before
    finally:
        await consumer.stop()


async def test_an_idle_consumer_pauses_after_empty_fetches(bootstrap_servers: str) -> None:
    """On a broker that answers empty fetches at once, the pause bounds an idle consumer."""
    bound = 2 * WINDOW_S / IDLE_FETCH_PAUSE_S
    unpaused = await fetches_while_idle(bootstrap_servers, pause=False)
    if unpaused <= bound:
        pytest.skip(
            f"this broker holds empty fetches ({unpaused} in {WINDOW_S} s): nothing to bound"
        )
    paused = await fetches_while_idle(bootstrap_servers, pause=True)
    assert paused <= bound, f"{paused} fetches in {WINDOW_S} s with the pause, {unpaused} without"
