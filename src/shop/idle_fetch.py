"""A pause after an empty fetch, for brokers that do not hold empty fetches for fetch.max.wait.ms.

A Kafka broker answers a fetch for which it has no new records only after ``fetch.max.wait.ms``
(aiokafka sends 500 ms). noida-db, the embedded broker, answers at once, and aiokafka's background
fetcher sends the next fetch as soon as the last one returns: an idle consumer then spins at
thousands of fetches a second and burns a core (measured: the idle service and the idle registry
each used about 80 % of one). Holding each empty answer for a few milliseconds on our side bounds
that to fifty fetches a second. On a broker that does wait, an empty answer has already taken
half a second, and a few more milliseconds change nothing; answers with records are never held.

A consumer that someone waits on (the view, which a write waits on to read its event back) can be
woken from its pause: the next fetch goes out at once instead of up to 20 ms later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

FETCH_API_KEY = 1
IDLE_FETCH_PAUSE_S = 0.02


def pause_after_empty_fetches(
    consumer: Any, pause_s: float = IDLE_FETCH_PAUSE_S
) -> Callable[[], None]:
    """Make ``consumer`` (an AIOKafkaConsumer, before ``start``) wait ``pause_s`` after each
    fetch that brought no records; the function returned ends the current (or next) pause.

    aiokafka has no setting for this; its client's ``send`` is the one place every fetch passes.
    """
    client = consumer._client
    send = client.send
    woken = False
    waking: asyncio.Future[None] | None = None

    def wake() -> None:
        nonlocal woken
        woken = True
        if waking is not None and not waking.done():
            waking.set_result(None)

    async def pause() -> None:
        nonlocal woken, waking
        if not woken:
            waking = asyncio.get_running_loop().create_future()
            # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancellation that comes as
            # the future is set (a wake as the consumer stops).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause_s):
                    await waking
        woken, waking = False, None

    async def send_then_pause_if_empty(node_id: int, request: Any, **kwargs: Any) -> Any:
        response = await send(node_id, request, **kwargs)
        if request.API_KEY == FETCH_API_KEY and not _has_records(response):
            await pause()
        return response

    client.send = send_then_pause_if_empty
    return wake


def _has_records(response: Any) -> bool:
    # Every Fetch response version lists (topic, [(partition, error, high watermark, …, records)]).
    return any(partition[-1] for _, partitions in response.topics for partition in partitions)
