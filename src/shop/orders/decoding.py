"""Decoding the view's records: a batch at a time, waiting out a Schema Registry outage.

A registry that does not answer never makes the view skip records: the batch is decoded again,
with a growing pause, until it answers. Meanwhile the view says it is not following live.
"""

from __future__ import annotations

import logging

from shop.backoff import Backoff
from shop.codec import OrderEventCodec
from shop.errors import PoisonEvent, RegistryUnavailable
from shop.events import OrderEvent

log = logging.getLogger(__name__)


class Decoder:
    """Turns record values into order events (or :class:`PoisonEvent` for undecodable ones)."""

    def __init__(self, codec: OrderEventCodec) -> None:
        self._codec = codec
        self.waiting_for_registry = False

    async def decode(self, values: list[bytes | None]) -> list[OrderEvent | PoisonEvent]:
        """Decode a batch, waiting out a registry outage rather than skipping records."""
        backoff = Backoff()
        try:
            while True:
                try:
                    return await self._codec.decode_batch(values)
                except RegistryUnavailable as exc:
                    self.waiting_for_registry = True
                    log.warning(
                        "order consumer: %s; retrying in %.1f s", exc.message, backoff.next_s
                    )
                    await backoff.pause()
        finally:
            self.waiting_for_registry = False
