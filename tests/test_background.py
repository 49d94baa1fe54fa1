"""A task run beside a block is cancelled with it, and says so in the log when it fails."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shop.background import running_beside


async def test_a_failing_task_is_logged_when_it_fails_and_the_block_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The failure is logged once, with the task's name and its traceback, while the block is
    still running; leaving the block then raises nothing."""

    async def fails() -> None:
        raise RuntimeError("broken clock")

    with caplog.at_level(logging.ERROR, logger="shop.background"):
        async with running_beside(fails(), "clock", "the clock stopped") as task:
            with pytest.raises(RuntimeError):
                await asyncio.shield(task)
            [record] = caplog.records
    assert record.getMessage() == "the clock stopped (task 'clock' failed)"
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    assert len(caplog.records) == 1


async def test_a_task_still_running_is_cancelled_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Leaving the block cancels the task and waits for it; a cancellation is no failure."""
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    with caplog.at_level(logging.ERROR, logger="shop.background"):
        async with running_beside(forever(), "forever", "it stopped") as task:
            await started.wait()
    assert task.cancelled()
    assert not caplog.records
