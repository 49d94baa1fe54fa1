"""The dead-letter topic: where the view puts records it cannot apply, so none is lost silently.

A dead letter keeps the original key, value and headers, and adds headers naming where it came
from and why it was refused. It is written, and acknowledged, before the view commits past the
original record; a broker outage is waited out, never skipped.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from shop.backoff import Backoff
from shop.errors import KafkaUnavailable
from shop.kafka import EventPublisher, Headers

log = logging.getLogger(__name__)

PREFIX = "shop.dlq."
SOURCE_TOPIC = PREFIX + "source.topic"
SOURCE_PARTITION = PREFIX + "source.partition"
SOURCE_OFFSET = PREFIX + "source.offset"
ERROR = PREFIX + "error"
TIME = PREFIX + "time"
# Long enough for any reason we write; an error header is not a place for a whole record.
MAX_ERROR_BYTES = 1_000


def dead_letter_headers(record: Any, reason: str, now: datetime) -> Headers:
    """The record's own headers, then where it came from and why it was refused."""
    own = [(name, value) for name, value in record.headers or () if not name.startswith(PREFIX)]
    return [
        *own,
        (SOURCE_TOPIC, record.topic.encode()),
        (SOURCE_PARTITION, str(record.partition).encode()),
        (SOURCE_OFFSET, str(record.offset).encode()),
        (ERROR, reason.encode("utf-8")[:MAX_ERROR_BYTES]),
        (TIME, now.astimezone(UTC).isoformat(timespec="milliseconds").encode()),
    ]


def original_headers(headers: Any) -> Headers:
    """A dead letter's headers without the ones this module added (to replay the record)."""
    return [(name, value) for name, value in headers or () if not name.startswith(PREFIX)]


class DeadLetters:
    """Writes refused records to one topic and counts them."""

    def __init__(self, publisher: EventPublisher, topic: str) -> None:
        self.topic = topic
        self._publisher = publisher
        self.sent = 0

    async def send(self, record: Any, reason: str) -> None:
        """Write ``record`` to the dead-letter topic and wait until the broker acknowledged it."""
        headers = dead_letter_headers(record, reason, datetime.now(UTC))
        backoff = Backoff()
        while True:
            try:
                delivery = await self._publisher.send(self.topic, record.key, record.value, headers)
                await self._publisher.acknowledged(delivery, self.topic)
                break
            except KafkaUnavailable as exc:
                log.warning(
                    "dead letter of %s-%d@%d not written: %s; retrying in %.1f s",
                    record.topic,
                    record.partition,
                    record.offset,
                    exc.message,
                    backoff.next_s,
                )
                await backoff.pause()
        self.sent += 1
        log.error(
            "dead-lettered record %s-%d@%d to %s: %s",
            record.topic,
            record.partition,
            record.offset,
            self.topic,
            reason,
        )
