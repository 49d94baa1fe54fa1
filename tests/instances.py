"""Several ``python -m shop`` instances in one consumer group, on the session's broker and registry.

A :class:`Deployment` starts instances as subprocesses (one topic and group per test), stops
(SIGTERM), kills (SIGKILL), pauses (SIGSTOP) and resumes them, and waits until their group is
settled: every instance's ``/health`` shows the same routing table. A :class:`Load` writes through
every serving instance, retrying each write until it is acknowledged, and records every attempt;
:func:`histories` reads what the topic holds, the first claim of each version counting.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import simplejson

from shop.codec import OrderEventCodec
from shop.events import OrderEvent
from shop.partitioning import partition_of as _partition_of
from tests.brokers import free_port
from tests.service.helpers import topic_records
from tests.waiting import unique, wait_until

PARTITIONS = 6
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
# Longest a load's client waits for one answer (a paused instance never answers).
ANSWER_TIMEOUT_S = 20.0
# Longest one write may take to be acknowledged, retries included (a killed owner's partitions
# move only after the group's session timeout, 10 s).
ACKNOWLEDGED_WITHIN_S = 60.0
# The statuses a load cycles through: each differs from the one before, none is final.
CYCLE = ("confirmed", "shipped", "new")
FORWARDED_BY = "X-Shop-Forwarded-By"


def partition_of(order_id: str, partitions: int = PARTITIONS) -> int:
    """The partition of ``order_id``'s events, as the service's producer chooses it."""
    return _partition_of(order_id.encode("utf-8"), partitions)


@dataclasses.dataclass(eq=False)
class Instance:
    """One ``python -m shop`` of a deployment; its stdout and stderr go to ``log``."""

    name: str
    process: asyncio.subprocess.Process
    cart: str
    orders: str
    log: Path

    def signal(self, signum: int) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signum)

    async def exited(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout_s)


@dataclasses.dataclass(frozen=True, slots=True)
class Routing:
    """What one instance's ``/health`` says of the partitions."""

    stable: bool
    owned: frozenset[int]
    caught_up: bool  # every partition it owns
    owners: dict[int, str]  # partition -> cart URL of its owner

    def owns(self, order_id: str) -> bool:
        return partition_of(order_id, len(self.owners)) in self.owned

    @classmethod
    def of(cls, health: Any) -> Routing:
        partitions = health["partitions"]
        owned = frozenset(int(p) for p in partitions["owned"])
        caught_up = partitions.get("caughtUp", {})
        return cls(
            stable=bool(partitions["stable"]),
            owned=owned,
            caught_up=all(caught_up.get(str(p)) is True for p in owned),
            owners={int(p): str(where["cart"]) for p, where in partitions["table"].items()},
        )


@dataclasses.dataclass(eq=False)
class Deployment:
    """The instances of one test: same broker, registry, topic and consumer group."""

    bootstrap: str
    registry: str
    idempotence: bool
    root: Path
    topic: str = dataclasses.field(default_factory=lambda: unique("order-events"))
    group: str = dataclasses.field(default_factory=lambda: unique("shop-orders"))
    partitions: int = PARTITIONS
    started: list[Instance] = dataclasses.field(default_factory=list)
    # Started and not signalled to stop or die: where a load sends its requests.
    serving: list[Instance] = dataclasses.field(default_factory=list)

    def env(self, name: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
        env |= {
            "SHOP_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "SHOP_SCHEMA_REGISTRY_URL": self.registry,
            "SHOP_CART_PORT": str(free_port()),
            "SHOP_ORDERS_PORT": str(free_port()),
            "SHOP_TOPIC": self.topic,
            "SHOP_TOPIC_PARTITIONS": str(self.partitions),
            "SHOP_CONSUMER_GROUP": self.group,
            "SHOP_KAFKA_IDEMPOTENCE": "true" if self.idempotence else "false",
            "SHOP_DATA_DIR": str(self.root / name),
        }
        return env | extra

    async def start(self, count: int = 1, **extra: str) -> list[Instance]:
        """``count`` more instances, started together, once each serves both APIs."""
        first = len(self.started)
        names = [f"shop-{number}" for number in range(first + 1, first + count + 1)]
        return list(await asyncio.gather(*(self._start(name, **extra) for name in names)))

    async def _start(self, name: str, **extra: str) -> Instance:
        log = self.root / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "shop"),
                env=self.env(name, **extra),
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )

        async def urls() -> tuple[str, str] | None:
            printed = dict(_printed(log))
            if process.returncode is not None:
                raise AssertionError(f"{name} exited while starting:\n{log.read_text()}")
            if "cart API" in printed and "orders API" in printed:
                return printed["cart API"], printed["orders API"]
            return None

        try:
            cart, orders = await wait_until(urls, timeout=START_TIMEOUT_S, what=f"{name} serving")
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        instance = Instance(name, process, cart, orders, log)
        self.started.append(instance)
        self.serving.append(instance)
        return instance

    def stop(self, instance: Instance) -> None:
        """SIGTERM: it leaves the group and finishes what it serves."""
        self._leave(instance)
        instance.signal(signal.SIGTERM)

    def kill(self, instance: Instance) -> None:
        """SIGKILL: the group drops it only after its session timeout."""
        self._leave(instance)
        instance.signal(signal.SIGKILL)

    def _leave(self, instance: Instance) -> None:
        with contextlib.suppress(ValueError):
            self.serving.remove(instance)

    async def close(self) -> None:
        """Every instance still running stopped (SIGTERM, then SIGKILL past the timeout)."""
        for instance in self.started:
            instance.signal(signal.SIGCONT)
            instance.signal(signal.SIGTERM)
        for instance in self.started:
            try:
                await instance.exited()
            except TimeoutError:
                instance.signal(signal.SIGKILL)
                await instance.process.wait()

    async def settled(
        self,
        http: aiohttp.ClientSession,
        instances: Sequence[Instance] | None = None,
        timeout_s: float = 60.0,
    ) -> dict[Instance, Routing]:
        """Wait until ``instances`` (by default the serving ones) are the whole group, settled:
        each is ready and shows the same stable table of every partition, and owns exactly its
        partitions of it, caught up. Their routings."""
        group = list(self.serving if instances is None else instances)

        async def probe() -> dict[Instance, Routing] | None:
            routings = {}
            for instance in group:
                health = await _health(http, instance)
                if health is None or not await _ready(http, instance):
                    return None
                routings[instance] = Routing.of(health)
            return routings if self._agree(routings) else None

        what = f"{', '.join(i.name for i in group)} settled on one routing table"
        return await wait_until(probe, timeout=timeout_s, what=what)

    def _agree(self, routings: dict[Instance, Routing]) -> bool:
        every = set(range(self.partitions))
        tables = [routing.owners for routing in routings.values()]
        if any(table != tables[0] or set(table) != every for table in tables):
            return False
        return all(
            routing.stable
            and routing.caught_up
            and routing.owned == {p for p, cart in routing.owners.items() if cart == instance.cart}
            for instance, routing in routings.items()
        ) and set(tables[0].values()) == {instance.cart for instance in routings}


async def _health(http: aiohttp.ClientSession, instance: Instance) -> Any:
    """``/health`` of ``instance`` when it answers 200, else None."""
    try:
        async with http.get(f"{instance.cart}/health", timeout=_timeout(5)) as response:
            return await response.json() if response.status == 200 else None
    except (aiohttp.ClientError, TimeoutError):
        return None


async def _ready(http: aiohttp.ClientSession, instance: Instance) -> bool:
    try:
        async with http.get(f"{instance.cart}/readyz", timeout=_timeout(5)) as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


def _printed(log: Path) -> Iterable[tuple[str, str]]:
    """``(what, url)`` of each ``shop: <what> on <url>`` line the instance printed."""
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("shop: ") and " on " in line:
            what, _, where = line.removeprefix("shop: ").partition(" on ")
            yield what, where.strip()


def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=seconds)


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class Attempt:
    """One write sent to one instance, and what came back (``code`` None: no answer)."""

    instance: str
    kind: str  # "create" or "update"
    order_id: str
    status: str  # the status asked for ("new" for a create)
    code: int | None
    started: float  # time.time() before sending
    ended: float  # and after the answer
    body: Any
    headers: dict[str, str]

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.headers.items() if k in ("Retry-After", FORWARDED_BY)}
        return (
            f"<{self.kind} {self.order_id} {self.status} via {self.instance} at {self.started:.3f}"
            f"+{self.ended - self.started:.3f} s: {self.code} {self.body} {shown}>"
        )

    @property
    def acknowledged(self) -> bool:
        return self.code in (200, 201)

    @property
    def order(self) -> Any:
        return self.body["order"] if self.acknowledged else None


async def write(
    http: aiohttp.ClientSession,
    instance: Instance,
    kind: str,
    order_id: str,
    status: str = "new",
    timeout_s: float = ANSWER_TIMEOUT_S,
) -> Attempt:
    """One create (``kind`` "create") or status update of ``order_id`` through ``instance``."""
    if kind == "create":
        method, path, body = "POST", "create-order", {"orderId": order_id, "itemsCount": 2}
    else:
        method, path, body = "PUT", "update-order", {"orderId": order_id, "status": status}
    started = time.time()
    code, answer, headers = None, None, {}
    url = f"{instance.cart}/{path}"
    try:
        async with http.request(method, url, json=body, timeout=_timeout(timeout_s)) as response:
            code, headers = response.status, dict(response.headers)
            answer = simplejson.loads(await response.text(), use_decimal=True)
    except (aiohttp.ClientError, TimeoutError):
        code = None
    return Attempt(
        instance.name, kind, order_id, status, code, started, time.time(), answer, headers
    )


def unexpected(attempt: Attempt, first: bool) -> bool:
    """Whether the answer to a write is one the service must not give: anything but 201, 200,
    503 (a JSON error; with Retry-After when rebalancing), no answer, or a 409 to a create
    retried (not ``first``) after an attempt that may have landed."""
    if attempt.code == 503:
        error = attempt.body.get("error") if isinstance(attempt.body, dict) else None
        if not error or not attempt.body.get("message"):
            return True
        return error == "rebalancing" and "Retry-After" not in attempt.headers
    if attempt.code == 409:
        return attempt.kind != "create" or first
    return attempt.code not in (200, 201, None)


async def until_acknowledged(
    http: aiohttp.ClientSession,
    targets: Sequence[Instance],
    kind: str,
    order_id: str,
    status: str = "new",
    *,
    record: list[Attempt],
    turn: int = 0,
) -> Attempt:
    """Send the write through ``targets`` in turn (read at each try: a list the deployment
    changes) until one acknowledges it, recording every attempt in ``record``. A create that
    meets 409 after an attempt that may have landed ends there, not acknowledged."""
    deadline = time.monotonic() + ACKNOWLEDGED_WITHIN_S
    for tries in itertools.count():
        attempt = await write(http, targets[(turn + tries) % len(targets)], kind, order_id, status)
        record.append(attempt)
        if attempt.acknowledged or (kind == "create" and attempt.code == 409 and tries > 0):
            return attempt
        if attempt.code not in (503, None):
            raise AssertionError(f"the service answered {attempt}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {kind} of {order_id} acknowledged in time: {attempt}")
        # A client backing off as the answer asks, not a test waiting for a condition.
        await asyncio.sleep(min(float(attempt.headers.get("Retry-After", 0.05)), 1.0))
    raise AssertionError("unreachable")


@dataclasses.dataclass(frozen=True, slots=True)
class Read:
    """An order-details of an order through one instance right after a write of it was
    acknowledged: ``expected`` is the order as acknowledged (only its status, when no 201 said
    the rest)."""

    instance: str
    expected: dict[str, Any]
    code: int | None
    body: Any
    headers: dict[str, str]

    @property
    def wrong(self) -> bool:
        """A stale or wrong answer: anything but the acknowledged order, a 503 with
        Retry-After, or no answer."""
        if self.code == 503:
            return "Retry-After" not in self.headers
        if self.code != 200:
            return self.code is not None
        return {k: v for k, v in self.body.items() if k in self.expected} != self.expected


async def read_back(
    http: aiohttp.ClientSession, instance: Instance, expected: dict[str, Any]
) -> Read:
    """``order-details`` of ``expected["orderId"]`` through ``instance``, as a :class:`Read`."""
    url = f"{instance.orders}/order-details"
    code, body, headers = None, None, {}
    try:
        async with http.get(
            url, params={"orderId": expected["orderId"]}, timeout=_timeout(ANSWER_TIMEOUT_S)
        ) as response:
            code, headers = response.status, dict(response.headers)
            body = simplejson.loads(await response.text(), use_decimal=True)
    except (aiohttp.ClientError, TimeoutError):
        code = None
    return Read(instance.name, expected, code, body, headers)


async def read(http: aiohttp.ClientSession, instance: Instance, order_id: str) -> tuple[int, Any]:
    """Status and body of ``order-details`` of ``order_id`` through ``instance``."""
    url = f"{instance.orders}/order-details"
    async with http.get(url, params={"orderId": order_id}, timeout=_timeout(30)) as response:
        return response.status, simplejson.loads(await response.text(), use_decimal=True)


def without_shipping(details: Any) -> Any:
    """An order-details answer as the order the cart answered (no ``shippingCost``)."""
    return {key: value for key, value in details.items() if key != "shippingCost"}


@dataclasses.dataclass(eq=False)
class Load:
    """``clients`` clients, each creating orders and updating each ``updates`` times (through
    ``CYCLE``) through the deployment's serving instances in turn. Each write is retried (after a
    503, after Retry-After, or after no answer) until acknowledged, so the statuses an order was
    acknowledged in, in order, are exactly the statuses its events must have; and each
    acknowledged write is read back once, through the next instance."""

    http: aiohttp.ClientSession
    deployment: Deployment
    clients: int = 3
    updates: int = 3
    attempts: list[Attempt] = dataclasses.field(default_factory=list)
    # The statuses each order was acknowledged in ("new" first), in order.
    expected: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    created: dict[str, Any] = dataclasses.field(default_factory=dict)  # 201 answers' orders
    reads: list[Read] = dataclasses.field(default_factory=list)
    _stop: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Load]:
        """The load running while the block runs; stopped (its writes acknowledged) after."""
        self._task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            self._stop.set()
            await self._task

    async def _run(self) -> None:
        """Until stopped; each client finishes the write it is retrying first."""
        prefix = unique("LOAD")
        async with asyncio.TaskGroup() as clients:
            for n in range(self.clients):
                clients.create_task(self._client(f"{prefix}-{n}", n))

    @property
    def acknowledged(self) -> int:
        return sum(attempt.acknowledged for attempt in self.attempts)

    async def more(self, count: int, timeout_s: float = 60.0) -> None:
        """Wait until ``count`` more writes than now were acknowledged."""
        target = self.acknowledged + count

        async def reached() -> bool:
            if self._task is not None and self._task.done():
                self._task.result()  # a client failed: its error, now
                raise AssertionError("the load stopped")
            return self.acknowledged >= target

        await wait_until(reached, timeout=timeout_s, what=f"{count} more acknowledged writes")

    async def _client(self, prefix: str, turn: int) -> None:
        serving = self.deployment.serving
        for number in itertools.count(1):
            if self._stop.is_set():
                return
            order_id = f"{prefix}-{number}"
            for kind, status in [
                ("create", "new"),
                *(("update", s) for s in CYCLE[: self.updates]),
            ]:
                turn += 1
                attempt = await until_acknowledged(
                    self.http, serving, kind, order_id, status, record=self.attempts, turn=turn
                )
                self.expected.setdefault(order_id, []).append(status)
                if attempt.code == 201:
                    self.created[order_id] = attempt.order
                known = self.created.get(order_id, {"orderId": order_id})
                expected = {**known, "status": status}
                reader = serving[(turn + 1) % len(serving)]
                self.reads.append(await read_back(self.http, reader, expected))
                if self._stop.is_set():
                    return

    def unexpected(self) -> list[Attempt]:
        return unexpected_answers(self.attempts)

    def wrong_reads(self) -> list[Read]:
        return [read for read in self.reads if read.wrong]


def unexpected_answers(attempts: Iterable[Attempt]) -> list[Attempt]:
    """The answers among ``attempts`` the service must not give (:func:`unexpected`)."""
    seen: set[tuple[str, str]] = set()
    found = []
    for attempt in attempts:
        write_ = (attempt.kind, attempt.order_id)
        if unexpected(attempt, write_ not in seen):
            found.append(attempt)
        seen.add(write_)
    return found


@dataclasses.dataclass(frozen=True, slots=True)
class History:
    """The events of one order on the topic, in log order."""

    events: list[OrderEvent]

    @property
    def first_claims(self) -> list[OrderEvent]:
        """The first event of each version in the log (the one that counts), by version."""
        first: dict[int, OrderEvent] = {}
        for event in self.events:
            first.setdefault(event.order_version, event)
        return [first[version] for version in sorted(first)]

    @property
    def later_claims(self) -> list[OrderEvent]:
        firsts = {id(event) for event in self.first_claims}
        return [event for event in self.events if id(event) not in firsts]

    @property
    def statuses(self) -> list[str]:
        return [event.order.status.value for event in self.first_claims]

    @property
    def versions(self) -> list[int]:
        return [event.order_version for event in self.first_claims]


async def histories(deployment: Deployment) -> dict[str, History]:
    """Every order's events on the deployment's topic, decoded with the service's codec."""
    records = await topic_records(deployment.bootstrap, deployment.topic, deployment.partitions)
    codec = OrderEventCodec(deployment.registry, deployment.topic, 10.0)
    await codec.start()
    decoded = await codec.decode_batch([record.value for record in records])
    found: dict[str, list[OrderEvent]] = {}
    for record, event in zip(records, decoded, strict=True):
        assert isinstance(event, OrderEvent), f"not an order event at {record.offset}: {event}"
        assert record.key == event.order_id.encode(), record
        found.setdefault(event.order_id, []).append(event)
    return {order_id: History(events) for order_id, events in found.items()}


async def each(calls: Iterable[Awaitable[Any]], at_once: int = 8) -> list[Any]:
    """Await ``calls``, at most ``at_once`` at a time; their results in order."""
    slots = asyncio.Semaphore(at_once)

    async def bounded(call: Awaitable[Any]) -> Any:
        async with slots:
            return await call

    return list(await asyncio.gather(*(bounded(call) for call in calls)))
