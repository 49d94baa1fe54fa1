"""Where the registry's CPU-bound schema work runs: parsing and compatibility checks.

A small schema takes well under a millisecond and is worked on the event loop. A large one takes
up to about a second, so it goes to a pool of its own, two threads wide: the loop keeps
answering, small requests never queue behind large ones, and no more than two large ones at a
time contend with the loop for the interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

# Text lengths up to this are worked on the loop: a record of a hundred fields or so.
SMALL_TEXT_LENGTH = 16 * 1024
THREADS = 2

P = ParamSpec("P")
R = TypeVar("R")


class SchemaWork:
    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool

    async def run(
        self, text_length: int, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """``function(*args, **kwargs)``, on the loop if the texts it reads add up to at most
        :data:`SMALL_TEXT_LENGTH`, else in the pool."""
        if text_length <= SMALL_TEXT_LENGTH:
            return function(*args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))


@contextlib.contextmanager
def schema_work() -> Iterator[SchemaWork]:
    """The pool, shut down (without waiting for work in it) when the block ends."""
    pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="schema-work")
    try:
        yield SchemaWork(pool)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
