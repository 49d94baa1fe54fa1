"""Typed wrappers over the untyped aiokafka clients: publishing and topics.

Every wait for the broker is bounded: an unreachable broker is :class:`KafkaUnavailable`, never a
request that hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from shop.errors import InvalidRequest, KafkaUnavailable, StartupError, TopicNotFound
from shop.settings import TOPIC_NAME

log = logging.getLogger(__name__)

T = TypeVar("T")
# aiokafka's future for one record: resolves to its RecordMetadata once the broker acknowledged it.
Delivery = asyncio.Future[Any]
TOPIC_RULE = "must be 1 to 249 letters, digits, '.', '_' or '-' (and not '.' or '..')"
TOPIC_ALREADY_EXISTS = 36
# Each record also carries its event's orderVersion as a header, so a consumer can tell an event
# it already holds (e.g. one the cart applied itself) without decoding the Avro value.
VERSION_HEADER = "orderVersion"
Headers = list[tuple[str, bytes]]


def version_headers(version: int) -> Headers:
    return [(VERSION_HEADER, str(version).encode("ascii"))]


def header_version(headers: Any) -> int | None:
    """The orderVersion header of a record, or None when it has none we can read."""
    for name, value in headers or ():
        if name == VERSION_HEADER:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


async def bounded(call: Awaitable[T], timeout_s: float, doing: str) -> T:
    """Await ``call`` for at most ``timeout_s``; a broker error or the timeout is 503-worthy."""
    try:
        return await asyncio.wait_for(call, timeout_s)
    except (KafkaError, OSError) as exc:
        # aiokafka's words (class names, node ids, error codes) are for the operator, not the
        # caller: one line in the log (repr keeps it one line), plain words in the answer.
        log.warning("Kafka failed while %s: %r", doing, exc)
        raise KafkaUnavailable(
            f"Kafka is unreachable or refused the request while {doing}; try again later"
        ) from None
    except asyncio.TimeoutError:
        raise KafkaUnavailable(
            f"Kafka did not answer within {timeout_s:g} s while {doing}; try again later"
        ) from None


async def close_quietly(call: Awaitable[object], timeout_s: float, what: str) -> None:
    """Close an aiokafka client for at most ``timeout_s``, whatever state the broker is in.

    With the broker gone, aiokafka's ``stop()`` can wait forever (idempotent producer) or re-raise
    the CancelledError of one of its own internal tasks; neither must break our shutdown. A
    cancellation of *this* task still propagates.
    """
    try:
        await asyncio.wait_for(call, timeout_s)
    except (KafkaError, OSError, asyncio.TimeoutError) as exc:
        log.warning("closing the %s: %r", what, exc)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("closing the %s: an internal task was cancelled", what)


class KafkaAdmin:
    """Topic metadata and creation. Existence comes from the full topic list, never from asking
    for one topic by name: a broker that auto-creates topics would create it."""

    def __init__(self, bootstrap_servers: str, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._admin: Any = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout_s * 1000)
        )

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, bootstrap_servers: str, timeout_s: float) -> AsyncIterator[KafkaAdmin]:
        admin = cls(bootstrap_servers, timeout_s)
        await bounded(admin._admin.start(), timeout_s, f"connecting to {bootstrap_servers}")
        try:
            yield admin
        finally:
            await close_quietly(admin._admin.close(), timeout_s, "admin client")

    async def _topics(self) -> dict[str, Any]:
        """The metadata of every topic of the cluster, by name (one metadata request)."""
        topics = await bounded(self._admin.describe_topics(None), self._timeout_s, "listing topics")
        return {topic["topic"]: topic for topic in topics}

    async def topic_partitions(self) -> dict[str, int]:
        """Every topic of the cluster with its number of partitions (one metadata request)."""
        return {name: len(topic["partitions"]) for name, topic in (await self._topics()).items()}

    async def partitions_of(self, topic: str) -> int:
        """How many partitions the existing, non-internal ``topic`` has.

        :class:`InvalidRequest` for a name Kafka cannot have or one of Kafka's own topics
        (``__consumer_offsets``, ``__transaction_state``: they hold no keys of ours);
        :class:`TopicNotFound` when it does not exist.
        """
        if not TOPIC_NAME.fullmatch(topic) or topic in (".", ".."):
            raise InvalidRequest(f"topic {TOPIC_RULE}", {"topic": TOPIC_RULE})
        metadata = (await self._topics()).get(topic)
        if metadata is None:
            raise TopicNotFound(f"topic {topic} does not exist; check the name")
        # Kafka reserves the "__" prefix for its internal topics; not every broker flags them.
        if metadata.get("is_internal") or topic.startswith("__"):
            raise InvalidRequest(
                f"topic {topic} is internal to Kafka and holds no orders; ask for an order topic",
                {"topic": "is an internal Kafka topic"},
            )
        return len(metadata["partitions"])

    async def ensure_topic(
        self,
        topic: str,
        partitions: int,
        replication_factor: int = 1,
        configs: Mapping[str, str] | None = None,
    ) -> None:
        """Create ``topic`` unless it exists; an existing topic is left as it is."""
        existing = (await self.topic_partitions()).get(topic)
        if existing is not None:
            if existing != partitions:
                log.info("topic %s exists with %d partitions; keeping them", topic, existing)
            return
        new = NewTopic(topic, partitions, replication_factor, topic_configs=dict(configs or {}))
        response = await bounded(
            self._admin.create_topics([new]), self._timeout_s, f"creating topic {topic}"
        )
        for name, code, *rest in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                detail = rest[0] if rest and rest[0] else f"error code {code}"
                raise StartupError(f"Kafka refused to create topic {name}: {detail}")
        log.info("created topic %s with %d partitions", topic, partitions)

    async def topic_configs(self, topic: str) -> dict[str, str]:
        """The configuration the broker reports for ``topic`` (empty where it reports none)."""
        resource = ConfigResource(ConfigResourceType.TOPIC, topic)
        answers = await bounded(
            self._admin.describe_configs([resource]), self._timeout_s, f"describing topic {topic}"
        )
        return {
            entry[0]: entry[1]
            for answer in answers
            for found in answer.resources
            for entry in found[4]
        }

    async def reachable(self, timeout_s: float) -> bool:
        """Whether the broker answers a real metadata request within ``timeout_s``."""
        try:
            await asyncio.wait_for(self._admin.describe_cluster(), timeout_s)
        except (KafkaError, OSError, asyncio.TimeoutError):
            return False
        return True


class EventPublisher:
    """The one producer: idempotent (where the broker allows), ``acks=all``."""

    def __init__(self, bootstrap_servers: str, idempotence: bool, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._producer: Any = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            enable_idempotence=idempotence,
            acks="all",
            linger_ms=2,
            request_timeout_ms=int(timeout_s * 1000),
        )

    @classmethod
    @contextlib.asynccontextmanager
    async def running(
        cls, bootstrap_servers: str, idempotence: bool, timeout_s: float
    ) -> AsyncIterator[EventPublisher]:
        publisher = cls(bootstrap_servers, idempotence, timeout_s)
        try:
            await bounded(publisher._producer.start(), timeout_s, "starting the producer")
            yield publisher
        finally:
            await close_quietly(publisher._producer.stop(), timeout_s, "producer")

    async def send(self, topic: str, key: bytes, value: bytes, headers: Headers) -> Delivery:
        """Hand one record to the producer; the returned future resolves on the broker's ack."""
        delivery: Delivery = await bounded(
            self._producer.send(topic, value, key=key, headers=headers),
            self._timeout_s,
            f"publishing to {topic}",
        )
        return delivery

    async def acknowledged(self, delivery: Delivery, topic: str) -> Any:
        """Wait, at most the request timeout, for the broker to acknowledge ``delivery``; its
        RecordMetadata (``partition``, ``offset``).

        :class:`KafkaUnavailable` when it failed or took longer. After a timeout the outcome is
        unknown: ``delivery`` stays pending (the wait is shielded) and the record may still land,
        which is why the order writer keeps it until it settles.
        """
        return await bounded(asyncio.shield(delivery), self._timeout_s, f"publishing to {topic}")
