"""Where the log must reach: per partition, the end the view applied or the cart saw acknowledged,
kept in a small file of the service's own.

A broker that acknowledges before it saves (noida-db, the embedded default) can come back from a
crash with a shorter log. While the service runs, its view notices; when the service died with
the broker, only a note it kept itself can tell the restarted one what the log had reached. The
note is rewritten atomically at most every ``FLUSH_S`` while it changes, so it trails the log by
that much (noida-db's own saving trails by about a second); a loss inside that window goes unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

from shop.background import running_beside

log = logging.getLogger(__name__)

FLUSH_S = 0.05


class Watermarks:
    """The highest end offset of each partition of one topic that this service relied on."""

    def __init__(self, path: Path | None, topic: str) -> None:
        self._path = path
        self._topic = topic
        self.previous: dict[int, int] = self._load()
        self._ends = dict(self.previous)
        self._dirty = False

    def note(self, partition: int, end: int) -> None:
        """The log of ``partition`` holds records up to ``end`` (exclusive), as far as we know."""
        if end > self._ends.get(partition, 0):
            self._ends[partition] = end
            self._dirty = True

    def reset(self, partition: int, end: int) -> None:
        """The log of ``partition`` now ends at ``end``, lower than noted: a loss was reported."""
        if self._ends.get(partition) != end:
            self._ends[partition] = end
            self._dirty = True

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Watermarks]:
        """Flush the note in the background while the block runs, and once more at its end."""
        if self._path is None:
            yield self
            return
        try:
            async with running_beside(
                self._flush_now_and_then(),
                "watermarks",
                "how far the log reached is no longer saved until the service restarts",
            ):
                yield self
        finally:
            self._flush()  # also when the block failed, as before running_beside

    async def _flush_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            self._flush()

    def _flush(self) -> None:
        if not self._dirty or self._path is None:
            return
        self._dirty = False
        body = {
            "topic": self._topic,
            "ends": {str(p): end for p, end in sorted(self._ends.items())},
        }
        partial = self._path.with_suffix(".tmp")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(body))
            os.replace(partial, self._path)
        except OSError as exc:
            log.warning("cannot write %s: %s", self._path, exc.strerror)

    def _load(self) -> dict[int, int]:
        if self._path is None or not self._path.exists():
            return {}
        try:
            body = json.loads(self._path.read_text())
            if body.get("topic") != self._topic:
                return {}
            return {int(partition): int(end) for partition, end in body["ends"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("ignoring %s, which cannot be read: %r", self._path, exc)
            return {}
