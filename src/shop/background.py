"""A task that runs beside a block: created before it, cancelled and awaited after it.

STYLE's lifecycle rule for background work, in one place: nothing outlives the component that
started it, and an error of the task after it was cancelled does not hide the block's own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


@contextlib.asynccontextmanager
async def running_beside(
    work: Coroutine[Any, Any, None], name: str
) -> AsyncIterator[asyncio.Task[None]]:
    """``work`` as a task for the duration of the block (the task, to watch it)."""
    task = asyncio.create_task(work, name=name)
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await task
