"""The write's deadline behaves as asyncio.timeout: late work is cut as a TimeoutError, and
nothing else changes."""

from __future__ import annotations

import asyncio

import pytest

from shop.deadline import Deadline


async def test_work_past_the_deadline_is_cut_as_a_timeout() -> None:
    """A body still waiting at the deadline is cancelled, and the block raises TimeoutError."""
    never = asyncio.Event()
    with pytest.raises(TimeoutError):
        async with Deadline(0.01):
            await never.wait()
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_work_within_the_deadline_is_untouched() -> None:
    """A body that ends in time returns normally, and the timer no longer fires."""
    async with Deadline(0.05):
        await asyncio.sleep(0)
    await asyncio.sleep(0.1)  # a timer left armed would cancel this task now


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    """The caller's own cancellation is not turned into a TimeoutError, even past the deadline."""
    started = asyncio.Event()

    async def write() -> None:
        async with Deadline(0.01):
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(write())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_an_error_inside_passes_through() -> None:
    """An exception of the body leaves the block as it is."""
    with pytest.raises(ValueError, match="inside"):
        async with Deadline(1):
            raise ValueError("inside")
