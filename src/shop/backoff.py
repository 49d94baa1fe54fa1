"""Growing pauses between attempts at something that waits for Kafka or the registry to return."""

from __future__ import annotations

import asyncio

FIRST_S = 0.1
MOST_S = 5.0


class Backoff:
    """Pauses of ``first_s``, doubling after each, at most ``most_s``; :meth:`reset` after a
    success starts again from ``first_s``."""

    def __init__(self, first_s: float = FIRST_S, most_s: float = MOST_S) -> None:
        self._first_s = first_s
        self._most_s = most_s
        self.next_s = first_s  # the pause :meth:`pause` takes next (to say so in the log)

    async def pause(self) -> None:
        await asyncio.sleep(self.next_s)
        self.next_s = min(self.next_s * 2, self._most_s)

    def reset(self) -> None:
        self.next_s = self._first_s
