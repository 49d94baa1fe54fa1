"""Typed wrappers over the untyped aiokafka clients: publishing and topics.

Every wait for the broker is bounded: an unreachable broker is :class:`KafkaUnavailable`, never a
request that hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, Protocol, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

from shop.backoff import Backoff
from shop.errors import InvalidRequest, KafkaUnavailable, StartupError, TopicNotFound
from shop.partitioning import partitioner
from shop.probe import SharedProbe
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


async def bounded(call: Awaitable[T], timeout_s: float | None, doing: str) -> T:
    """Await ``call`` for at most ``timeout_s``; a broker error or the timeout is 503-worthy.

    ``None`` arms no timer: for a caller whose own deadline (``asyncio.timeout``) bounds the wait.
    """
    try:
        if timeout_s is None:  # not even a Timeout without a timer: it is set up on every write
            return await call
        # A timer on this task, not asyncio.wait_for: on 3.11 that wraps a coroutine in a task of
        # its own, two more trips through the event loop for every send of every write.
        async with asyncio.timeout(timeout_s):
            return await call
    # TimeoutError first: it is an OSError too.
    except TimeoutError:
        within = "in time" if timeout_s is None else f"within {timeout_s:g} s"
        raise KafkaUnavailable(
            f"Kafka did not answer {within} while {doing}; try again later"
        ) from None
    except (KafkaError, OSError) as exc:
        raise _failed(exc, doing) from None


def _failed(exc: BaseException, doing: str) -> KafkaUnavailable:
    # aiokafka's words (class names, node ids, error codes) are for the operator, not the
    # caller: one line in the log (repr keeps it one line), plain words in the answer.
    log.warning("Kafka failed while %s: %r", doing, exc)
    return KafkaUnavailable(
        f"Kafka is unreachable or refused the request while {doing}; try again later"
    )


def delivery_failure(delivery: Delivery, doing: str) -> BaseException | None:
    """What a writer waiting for the settled ``delivery`` raises, or None when the broker
    acknowledged it: for a callback that must not await. Kafka's errors in :func:`bounded`'s
    words; a cancelled delivery (never sent) as one of them too."""
    if delivery.cancelled():
        return _failed(asyncio.CancelledError("the delivery was cancelled"), doing)
    error = delivery.exception()
    if isinstance(error, KafkaError | OSError):
        return _failed(error, doing)
    return error


async def close_quietly(call: Awaitable[object], timeout_s: float, what: str) -> None:
    """Close an aiokafka client for at most ``timeout_s``, whatever state the broker is in.

    With the broker gone, aiokafka's ``stop()`` can wait forever (idempotent producer) or re-raise
    the CancelledError of one of its own internal tasks; neither must break our shutdown. A
    cancellation of *this* task still propagates.
    """
    try:
        await asyncio.wait_for(call, timeout_s)
    except (TimeoutError, KafkaError, OSError) as exc:
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
        self.broker_probe = SharedProbe()
        self._answered = True  # whether the last probe was answered (to log each change once)

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, bootstrap_servers: str, timeout_s: float) -> AsyncIterator[KafkaAdmin]:
        admin = cls(bootstrap_servers, timeout_s)
        await bounded(admin._admin.start(), timeout_s, f"connecting to {bootstrap_servers}")
        log.info("connected to Kafka at %s", bootstrap_servers)
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
        log.info("created topic %s with %d partition(s)", topic, partitions)

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
        """Whether the broker answered a real metadata request within ``timeout_s``, at most a
        second ago: one request serves every caller meanwhile (:class:`SharedProbe`)."""
        return await self.broker_probe.answer(lambda: self._describe_cluster(timeout_s))

    async def _describe_cluster(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._admin.describe_cluster(), timeout_s)
        except (TimeoutError, KafkaError, OSError) as exc:
            if self._answered:
                log.warning("Kafka stopped answering (%r); health is 503 until it does", exc)
            self._answered = False
            return False
        if not self._answered:
            log.info("Kafka answers again")
        self._answered = True
        return True


# States aiokafka's idempotent producer never leaves. The Java client bumps its epoch and goes on
# (KIP-360); aiokafka fails every later send with the same error (or its sender task dies on it),
# so the publisher replaces the whole producer.
PRODUCER_DEAD_ENDS = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    ProducerFenced,
    InvalidProducerEpoch,
)
# The longest pause between attempts to start a replacement while the broker is still away.
MAX_RESTART_BACKOFF_S = 2.0


class ProducerReplaced(KafkaError):  # type: ignore[misc]  # aiokafka is untyped
    """The record was held by a producer that was replaced before the broker confirmed it; that
    producer will never send it now, and will never say whether an earlier attempt landed."""


class _Generation:
    """One AIOKafkaProducer and the deliveries it handed out that have not settled yet."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.producer: Any = AIOKafkaProducer(**config)
        self.unsettled: set[Delivery] = set()


class SendObserver(Protocol):
    def acknowledged(self, topic: str, seconds: float) -> None:
        """The broker acknowledged a record of ``topic`` ``seconds`` after it was sent."""


class EventPublisher:
    """The one producer: idempotent (where the broker allows), ``acks=all``.

    A producer that reaches a state it cannot leave (:data:`PRODUCER_DEAD_ENDS`, or its sender
    task ended) is replaced by a new one with the same settings, once, however many writes saw the
    error; writes answer 503 at once until the new one has started. Every delivery the old one
    still held fails with :class:`ProducerReplaced`, after it can no longer send anything.
    """

    def __init__(
        self, bootstrap_servers: str, idempotence: bool, timeout_s: float, observer: SendObserver
    ) -> None:
        self._timeout_s = timeout_s
        self._observer = observer
        self._config: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "enable_idempotence": idempotence,
            "acks": "all",
            "linger_ms": 2,
            "partitioner": partitioner,
            "request_timeout_ms": int(timeout_s * 1000),
        }
        self._current: _Generation | None = None  # None while it is being replaced
        self._open: set[_Generation] = set()  # not stopped yet, the current one included
        self._replacing: asyncio.Task[None] | None = None
        self._closed = False
        self.replacements = 0

    @classmethod
    @contextlib.asynccontextmanager
    async def running(
        cls, bootstrap_servers: str, idempotence: bool, timeout_s: float, observer: SendObserver
    ) -> AsyncIterator[EventPublisher]:
        publisher = cls(bootstrap_servers, idempotence, timeout_s, observer)
        try:
            publisher._current = await publisher._started("starting the producer")
            yield publisher
        finally:
            await publisher._close()

    @property
    def writable(self) -> bool:
        """Whether a started producer takes writes (False while it is being replaced)."""
        return self._current is not None

    @property
    def client(self) -> Any:
        """The current producer's aiokafka client (its connections and cluster metadata).

        :class:`KafkaUnavailable` while the producer is being replaced.
        """
        return self._writable().producer.client

    async def send(
        self, topic: str, key: bytes, value: bytes, headers: Headers, *, deadline: bool = False
    ) -> Delivery:
        """Hand one record to the producer; the returned future resolves on the broker's ack.

        ``deadline``: the caller's own deadline bounds the wait, so no second timer is armed (a
        timer costs about 5 % of a create's CPU, measured).
        """
        generation = self._writable()
        delivery: Delivery = await bounded(
            generation.producer.send(topic, value, key=key, headers=headers),
            None if deadline else self._timeout_s,
            f"publishing to {topic}",
        )
        generation.unsettled.add(delivery)
        sent_at = asyncio.get_running_loop().time()
        delivery.add_done_callback(functools.partial(self._settled, generation, topic, sent_at))
        return delivery

    async def acknowledged(self, delivery: Delivery, topic: str) -> Any:
        """Wait, at most the request timeout, for the broker to acknowledge ``delivery``; its
        RecordMetadata (``partition``, ``offset``).

        :class:`KafkaUnavailable` when it failed or took longer. After a timeout the outcome is
        unknown: ``delivery`` stays pending (the wait is shielded) and the record may still land,
        which is why the order writer keeps it until it settles.
        """
        return await bounded(asyncio.shield(delivery), self._timeout_s, f"publishing to {topic}")

    def _writable(self) -> _Generation:
        if self._current is None:
            raise KafkaUnavailable(
                "the connection to Kafka is being re-established after a broker failure; "
                "try again in a few seconds"
            )
        return self._current

    async def _started(self, doing: str) -> _Generation:
        generation = _Generation(self._config)
        self._open.add(generation)
        try:
            await bounded(generation.producer.start(), self._timeout_s, doing)
        except BaseException:
            await self._stop(generation)
            raise
        # aiokafka's sender task sends every batch; once it has ended, nothing will be sent again.
        sender_task: asyncio.Task[None] = generation.producer._sender.sender_task
        sender_task.add_done_callback(functools.partial(self._sender_ended, generation))
        return generation

    def _settled(
        self, generation: _Generation, topic: str, sent_at: float, delivery: Delivery
    ) -> None:
        generation.unsettled.discard(delivery)
        if delivery.cancelled():
            return
        error = delivery.exception()
        if error is None:
            self._observer.acknowledged(topic, asyncio.get_running_loop().time() - sent_at)
        elif isinstance(error, PRODUCER_DEAD_ENDS):
            self._broken(generation, repr(error))

    def _sender_ended(self, generation: _Generation, task: asyncio.Task[None]) -> None:
        failure = None if task.cancelled() else task.exception()
        self._broken(generation, f"its sender task ended ({failure!r})")

    def _broken(self, generation: _Generation, why: str) -> None:
        """Replace ``generation`` if it is still the current producer (only the first call acts)."""
        if generation is not self._current or self._closed:
            return
        self._current = None
        self.replacements += 1
        log.warning("the Kafka producer cannot recover (%s); replacing it", why)
        self._replacing = asyncio.create_task(self._replace(generation), name="replace producer")

    async def _replace(self, old: _Generation) -> None:
        await self._retire(old)
        backoff = Backoff(most_s=MAX_RESTART_BACKOFF_S)
        while True:
            try:
                new = await self._started("starting a new producer")
            except KafkaUnavailable:
                log.warning("no new producer yet; next attempt in %.1f s", backoff.next_s)
            except Exception:  # not seen, but giving up would leave every write 503 for good
                log.exception(
                    "starting a new producer failed; next attempt in %.1f s", backoff.next_s
                )
            else:
                self._current = new
                log.info("the Kafka producer was replaced; writes resume")
                return
            await backoff.pause()

    async def _retire(self, old: _Generation) -> None:
        """Stop a producer that will never deliver again, so that nothing it held goes out later,
        then fail every delivery it still held.

        aiokafka's ``stop()`` first waits until every batch is delivered, which an idempotent
        producer retries forever, and a ``stop()`` cut short by our timeout leaves its sender task
        running. So its sender is cancelled first, then its batches failed (aiokafka 0.12-0.14
        internals, as ``stop()`` itself uses them), then it is stopped.
        """
        producer = old.producer
        await close_quietly(producer._sender.close(), self._timeout_s, "replaced producer's sender")
        producer._message_accumulator.fail_all(ProducerReplaced("the producer was replaced"))
        await self._stop(old)
        for delivery in list(old.unsettled):
            if not delivery.done():
                delivery.set_exception(ProducerReplaced("the producer was replaced"))

    async def _stop(self, generation: _Generation) -> None:
        await close_quietly(generation.producer.stop(), self._timeout_s, "producer")
        self._open.discard(generation)

    async def _close(self) -> None:
        self._closed = True
        if self._replacing is not None:
            self._replacing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replacing
        for generation in list(self._open):
            await self._stop(generation)
