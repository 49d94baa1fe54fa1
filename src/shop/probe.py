"""A probe of a dependency whose answer is shared for a moment.

``/health`` on both ports, and any number of calls at once, cost one real request per dependency
and per ``max_age_s`` at most: callers that arrive while a probe is in flight wait for it instead
of starting their own, and its answer serves everyone until it is ``max_age_s`` old.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

# Long enough that a load balancer polling every few milliseconds costs nothing, short enough that
# an outage shows within about a second.
PROBE_MAX_AGE_S = 1.0


class SharedProbe:
    def __init__(self, max_age_s: float = PROBE_MAX_AGE_S) -> None:
        self._max_age_s = max_age_s
        self._answer: asyncio.Task[bool] | None = None
        self._answered_at = -math.inf
        self.made = 0  # probes actually made (not answers served from the last one)

    async def answer(self, probe: Callable[[], Awaitable[bool]]) -> bool:
        """The answer of a probe in flight or at most ``max_age_s`` old; else ``probe()``'s."""
        answer = self._answer
        if answer is None or (answer.done() and self._age() > self._max_age_s):
            answer = self._answer = asyncio.create_task(self._run(probe), name="health probe")
        # A caller that goes away (a client that hung up) does not cancel the others' probe.
        return await asyncio.shield(answer)

    def _age(self) -> float:
        return asyncio.get_running_loop().time() - self._answered_at

    async def _run(self, probe: Callable[[], Awaitable[bool]]) -> bool:
        self.made += 1
        try:
            return await probe()
        finally:
            self._answered_at = asyncio.get_running_loop().time()
