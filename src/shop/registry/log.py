"""The ``_schemas`` topic: read to its end on start, then followed; writes wait to be read back.

A write is produced first and takes effect only when the reader task has applied it, so the state
in memory is always what the topic says. Before each write decision the caller calls :meth:`sync`:
a write whose acknowledgement timed out may still land, and the next write must see it (else it
would hand out the same id again), so ``sync`` waits for such a write to settle and then reads the
topic up to its current end. Writes are serialized by the caller (one writer at a
time); running two registries as writers on one topic is not supported: both would hand out the
same ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaError,
    MessageSizeTooLargeError,
    TopicAlreadyExistsError,
    for_code,
)

from shop.errors import StartupError
from shop.idle_fetch import pause_after_empty_fetches
from shop.kafka import close_quietly
from shop.registry.errors import SchemaTooLarge, StoreUnavailable
from shop.registry.records import Record

log = logging.getLogger(__name__)

Apply = Callable[[bytes, bytes | None], None]
T = TypeVar("T")


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("the _schemas reader stopped; writes will fail until a restart", exc_info=error)


class SchemaLog:
    def __init__(self, bootstrap_servers: str, topic: str, timeout: float, apply: Apply) -> None:
        self._bootstrap = bootstrap_servers
        self._partition = TopicPartition(topic, 0)
        self._timeout = timeout
        self._apply = apply
        self._next_offset = 0
        self._progress = asyncio.Condition()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            acks="all",  # no idempotence: tansu cannot do it, and there is one writer anyway
            request_timeout_ms=int(timeout * 1000),
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        pause_after_empty_fetches(self._consumer)
        self._reader: asyncio.Task[None] | None = None
        # A produce whose outcome is unknown (its acknowledgement timed out).
        self._unsettled: asyncio.Future[Any] | None = None

    async def start(self) -> None:
        """Create the topic if needed, then read it to its end before returning; each step
        bounded by the timeout, else :class:`StartupError` naming it. The caller closes (see
        :meth:`close`) whether start succeeded or not."""
        await self._ensure_topic()
        await self._starting(self._producer.start(), "starting the producer")
        await self._starting(self._consumer.start(), "starting the consumer")
        self._consumer.assign([self._partition])
        await self._starting(
            self._consumer.seek_to_beginning(self._partition), "seeking to the topic's start"
        )
        ends = await self._starting(
            self._consumer.end_offsets([self._partition]), "reading the topic's end offset"
        )
        end = ends[self._partition]
        self._reader = asyncio.create_task(self._read(), name="registry-schemas-reader")
        self._reader.add_done_callback(_log_failure)
        try:
            await self._wait_applied(end, "reading _schemas at start-up")
        except StoreUnavailable as exc:
            raise StartupError(f"schema registry: {exc.message}") from None
        log.info("read %s to offset %d", self._partition.topic, end)

    async def close(self) -> None:
        """Stop the reader, the consumer and the producer, each within the timeout, even when
        another failed or the start never finished."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        try:
            await close_quietly(self._consumer.stop(), self._timeout, "_schemas consumer")
        finally:
            await close_quietly(self._producer.stop(), self._timeout, "_schemas producer")

    async def _starting(self, call: Awaitable[T], doing: str) -> T:
        try:
            return await asyncio.wait_for(call, self._timeout)
        except TopicAlreadyExistsError:
            raise
        except TimeoutError:
            reason = f"no answer within {self._timeout:g} s"
        except (KafkaError, OSError) as exc:
            reason = repr(exc)
        raise StartupError(
            f"schema registry: {doing} for {self._partition.topic} at {self._bootstrap}: {reason}"
        )

    async def sync(self) -> None:
        """Make the state in memory what the whole topic says now, before a write decision."""
        if self._reader is None or self._reader.done():
            raise StoreUnavailable(
                f"the reader of {self._partition.topic} stopped; restart the registry"
            )
        if self._unsettled is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._unsettled), self._timeout)
            except TimeoutError:
                raise StoreUnavailable(
                    f"an earlier write to {self._partition.topic} is still unconfirmed"
                ) from None
            except KafkaError:
                pass  # it failed; whether it landed anyway, the end offset below tells
            self._unsettled = None
        try:
            ends = await asyncio.wait_for(
                self._consumer.end_offsets([self._partition]), self._timeout
            )
        except (TimeoutError, KafkaError) as exc:
            raise StoreUnavailable(f"reading the end of {self._partition.topic}: {exc!r}") from None
        await self._wait_applied(ends[self._partition], "reading up to the end of the topic")

    async def write(self, record: Record) -> None:
        """Produce ``record`` and wait until the reader has applied it."""
        topic = self._partition.topic
        try:
            delivery = await asyncio.wait_for(
                self._producer.send(topic, key=record.key, value=record.value, partition=0),
                self._timeout,
            )
        except MessageSizeTooLargeError:
            raise SchemaTooLarge() from None  # over the producer's max_request_size
        except (TimeoutError, KafkaError) as exc:
            raise StoreUnavailable(f"producing to {topic} failed: {exc!r}") from None
        try:
            metadata = await asyncio.wait_for(asyncio.shield(delivery), self._timeout)
        except TimeoutError:
            self._unsettled = delivery  # it may still land: sync() waits for it
            raise StoreUnavailable(
                f"producing to {topic}: no acknowledgement within {self._timeout:g} s"
            ) from None
        except MessageSizeTooLargeError:
            raise SchemaTooLarge() from None  # over the broker's or topic's max.message.bytes
        except KafkaError as exc:
            raise StoreUnavailable(f"producing to {topic} failed: {exc!r}") from None
        await self._wait_applied(metadata.offset + 1, "reading back a write")

    async def _wait_applied(self, offset: int, what: str) -> None:
        async with self._progress:
            try:
                await asyncio.wait_for(
                    self._progress.wait_for(lambda: self._next_offset >= offset), self._timeout
                )
            except TimeoutError:
                raise StoreUnavailable(f"timed out {what} (offset {offset})") from None

    async def _read(self) -> None:
        while True:
            batches = await self._consumer.getmany(self._partition, timeout_ms=500)
            for message in batches.get(self._partition, []):
                try:
                    self._apply(message.key, message.value)
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("skipping malformed record at offset %d: %r", message.offset, exc)
            # the position also moves past compacted gaps and transaction markers
            position = await self._consumer.position(self._partition)
            async with self._progress:
                self._next_offset = position
                self._progress.notify_all()

    async def _ensure_topic(self) -> None:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self._bootstrap, request_timeout_ms=int(self._timeout * 1000)
        )
        try:
            await self._starting(admin.start(), "connecting the admin client")
            topic = NewTopic(
                self._partition.topic, 1, 1, topic_configs={"cleanup.policy": "compact"}
            )
            try:
                response = await self._starting(admin.create_topics([topic]), "creating the topic")
            except TopicAlreadyExistsError:
                return
            for _, code, *_ in response.topic_errors:
                if code and code != TopicAlreadyExistsError.errno:
                    error = for_code(code)
                    raise StartupError(
                        f"schema registry: Kafka refused to create {self._partition.topic}: "
                        f"{error.__name__}"
                    )
        finally:
            await close_quietly(admin.close(), self._timeout, "_schemas admin client")
