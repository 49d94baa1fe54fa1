"""A pause after an empty fetch, for brokers that do not hold empty fetches for fetch.max.wait.ms.

A Kafka broker answers a fetch for which it has no new records only after ``fetch.max.wait.ms``
(aiokafka sends 500 ms). noida-db, the embedded broker, answers at once, and aiokafka's background
fetcher sends the next fetch as soon as the last one returns: an idle consumer then spins at
thousands of fetches a second and burns a core (measured: the idle service and the idle registry
each used about 80 % of one). Holding each empty answer for a few milliseconds on our side bounds
that to fifty fetches a second. On a broker that does wait, an empty answer has already taken
half a second, and a few more milliseconds change nothing; answers with records are never held.
"""

from __future__ import annotations

import asyncio
from typing import Any

FETCH_API_KEY = 1
IDLE_FETCH_PAUSE_S = 0.02


def pause_after_empty_fetches(consumer: Any, pause_s: float = IDLE_FETCH_PAUSE_S) -> None:
    """Make ``consumer`` (an AIOKafkaConsumer, before ``start``) wait ``pause_s`` after each
    fetch that brought no records.

    aiokafka has no setting for this; its client's ``send`` is the one place every fetch passes.
    """
    client = consumer._client
    send = client.send

    async def send_then_pause_if_empty(node_id: int, request: Any, **kwargs: Any) -> Any:
        response = await send(node_id, request, **kwargs)
        if request.API_KEY == FETCH_API_KEY and not _has_records(response):
            await asyncio.sleep(pause_s)
        return response

    client.send = send_then_pause_if_empty


def _has_records(response: Any) -> bool:
    # Every Fetch response version lists (topic, [(partition, error, high watermark, …, records)]).
    return any(partition[-1] for _, partitions in response.topics for partition in partitions)
