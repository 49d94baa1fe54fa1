"""The order view as one component: the store and the consumer that fills it from the topic.

Opened, it is complete: every record the topic held when its partitions were assigned has been
applied (an update after a restart must find its order, and a create must not reuse an id the
topic already has).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

from shop import gc_tuning
from shop.codec import OrderEventCodec
from shop.kafka import EventPublisher
from shop.orders.consumer import OrderViewConsumer
from shop.orders.dead_letters import DeadLetters
from shop.orders.watermarks import Watermarks
from shop.ownership import Ownership
from shop.settings import Settings
from shop.store import OrderStore

# Joining a consumer group takes a few seconds on some brokers; then the view replays the topic,
# and start-up fails only if that replay stops advancing for this long.
CATCH_UP_TIMEOUTS = 6
MIN_CATCH_UP_S = 30.0


@dataclasses.dataclass(frozen=True, slots=True)
class OrderView:
    store: OrderStore
    consumer: OrderViewConsumer


@contextlib.asynccontextmanager
async def running_order_view(
    settings: Settings,
    bootstrap_servers: str,
    codec: OrderEventCodec,
    publisher: EventPublisher,
    ownership: Ownership,
) -> AsyncIterator[OrderView]:
    """The view, caught up with the topic; its consumer leaves the group on exit."""
    store = OrderStore()
    # Only the embedded broker can lose what it acknowledged; its data dir keeps our note.
    path = settings.data_dir / "view" / f"{settings.topic}.ends.json"
    watermarks = Watermarks(path if settings.embedded else None, settings.topic)
    async with watermarks.running():
        consumer = OrderViewConsumer(
            bootstrap_servers,
            settings.topic,
            settings.consumer_group,
            store,
            codec,
            DeadLetters(publisher, settings.dead_letters),
            watermarks,
            settings.request_timeout_s,
            ownership,
        )
        async with consumer.running():
            with gc_tuning.paused_then_frozen():
                stall_s = max(MIN_CATCH_UP_S, settings.request_timeout_s * CATCH_UP_TIMEOUTS)
                await consumer.wait_caught_up(stall_s)
            yield OrderView(store, consumer)
