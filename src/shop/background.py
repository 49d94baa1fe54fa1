"""A task that runs beside a block: created before it, cancelled and awaited after it.

STYLE's lifecycle rule for background work, in one place: nothing outlives the component that
started it, a task that fails says so in the log when it fails (not only at shutdown, and never
silently), and an error of the task does not hide the block's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def running_beside(
    work: Coroutine[Any, Any, None], name: str, failure: str
) -> AsyncIterator[asyncio.Task[None]]:
    """``work`` as a task for the duration of the block (the task, to watch it); should it fail,
    ``failure`` (what stops working, for the operator) is logged with its error at once."""
    task = asyncio.create_task(work, name=name)
    task.add_done_callback(functools.partial(_log_failure, failure))
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await task


def _log_failure(failure: str, task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("%s (task %r failed)", failure, task.get_name(), exc_info=error)
