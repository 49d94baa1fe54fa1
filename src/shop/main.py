"""``python -m shop``: assemble the shared resources and serve cart and orders on their ports.

Everything is opened in dependency order on one :class:`contextlib.AsyncExitStack` and closed in
reverse: embedded children (when no broker is configured), the registry codec, Kafka clients, the
topic, the order view (caught up before any port serves), then one runner per sub-app.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from typing import TypeVar

from aiohttp import web

from shop import settings as settings_module
from shop.cart.app import create_app as create_cart_app
from shop.children import ChildError, ChildProcess, ensure_port_free, noida_broker, schema_registry
from shop.codec import OrderEventCodec
from shop.errors import ShopError, StartupError
from shop.kafka import EventPublisher, KafkaAdmin
from shop.orders.app import create_app as create_orders_app
from shop.orders.consumer import OrderViewConsumer
from shop.orders.dead_letters import DeadLetters
from shop.orders.watermarks import Watermarks
from shop.settings import Settings, SettingsError
from shop.store import OrderStore
from shop.typedefs import Shared

log = logging.getLogger("shop")
T = TypeVar("T")

# Joining a consumer group takes a few seconds on some brokers; then the view replays the topic,
# and start-up fails only if that replay stops advancing for this long.
CATCH_UP_TIMEOUTS = 6
MIN_CATCH_UP_S = 30.0


@dataclasses.dataclass(frozen=True, slots=True)
class RunningService:
    cart_url: str
    orders_url: str
    shared: Shared
    children: tuple[ChildProcess, ...] = ()
    broker: str = ""
    registry_url: str = ""


async def _site(
    stack: contextlib.AsyncExitStack, app: web.Application, host: str, port: int, grace_s: float
) -> str:
    # On shutdown idle keep-alive connections close at once, and requests in flight get grace_s
    # before they are cancelled (aiohttp's default is 60 s). aiohttp drops what a client sends
    # after shutdown began, so a body still arriving cannot finish: it only holds the grace.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=grace_s)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    address = runner.addresses[0]
    return f"http://{address[0]}:{address[1]}"


LOOPBACK = "127.0.0.1"


async def _embedded(
    stack: contextlib.AsyncExitStack, settings: Settings
) -> tuple[str, str, tuple[ChildProcess, ...]]:
    # The children serve only this process: loopback, whatever SHOP_HOST opens the APIs to.
    host = LOOPBACK
    for on, port, what, key in (
        (settings.host, settings.cart_port, "cart API", "SHOP_CART_PORT"),
        (settings.host, settings.orders_port, "orders API", "SHOP_ORDERS_PORT"),
        (host, settings.embedded_kafka_port, "embedded Kafka broker", "SHOP_EMBEDDED_KAFKA_PORT"),
        (host, settings.embedded_registry_port, "embedded Schema Registry",
         "SHOP_EMBEDDED_REGISTRY_PORT"),
    ):  # fmt: skip
        ensure_port_free(on, port, what, key)
    logs = settings.data_dir / "logs"
    bootstrap = f"{host}:{settings.embedded_kafka_port}"
    broker = noida_broker(host, settings.embedded_kafka_port, settings.data_dir / "kafka", logs / "kafka.log")
    await stack.enter_async_context(broker.running())
    registry = schema_registry(host, settings.embedded_registry_port, bootstrap, logs / "registry.log")
    await stack.enter_async_context(registry.running())
    return bootstrap, f"http://{host}:{settings.embedded_registry_port}", (broker, registry)


# CPython collects its youngest generation every 700 allocations, several times per request here,
# and the whole heap, the order view included, each time it grew by a quarter. Measured under
# create-order load: ~30 % of the service's CPU and its p99 tail. Young collections every 50,000
# allocations still reclaim short-lived cycles; full ones become rare. Acyclic garbage (nearly
# all of it) is freed by reference counting whatever the thresholds.
GC_THRESHOLDS = (50_000, 20, 100)


# Every event is the whole order after it, keyed by orderId, and the view is rebuilt from the
# topic at each start: the latest event of each order is all the view needs, and it must never be
# deleted. Compaction keeps exactly that (the broker default, deletion after 7 days, would lose
# every order older than a week at the next restart).
ORDER_TOPIC_CONFIGS = {"cleanup.policy": "compact"}
# Dead letters wait for a person: nothing deletes them (retention.ms=-1), whatever the broker's
# default retention.
DEAD_LETTER_TOPIC_CONFIGS = {"retention.ms": "-1"}


async def _warn_if_events_expire(admin: KafkaAdmin, topic: str) -> None:
    """An existing topic is used as it is; say so when it would delete orders the view needs."""
    configs = await admin.topic_configs(topic)
    policy = configs.get("cleanup.policy", "")
    if "compact" not in policy and configs.get("retention.ms", "-1") != "-1":
        log.warning(
            "topic %s deletes events after retention.ms=%s (cleanup.policy=%s): orders older than "
            "that vanish from the view at the next restart; set cleanup.policy=compact",
            topic, configs["retention.ms"], policy or "delete",
        )  # fmt: skip


@contextlib.contextmanager
def _gc_paused_then_frozen() -> Iterator[None]:
    """No cyclic garbage collection while the view is rebuilt, then freeze what it holds.

    Each collection walks every tracked object, and the view holds a few per order: during a
    100,000-event replay that walking grew to most of the cost per event. Replaying makes almost
    no cyclic garbage. Afterwards one collection, then ``gc.freeze()``: the rebuilt view moves to
    the permanent generation and later collections skip it.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()
        gc.freeze()


@contextlib.asynccontextmanager
async def running_service(settings: Settings) -> AsyncIterator[RunningService]:
    """The whole service, serving until the block exits; closed in reverse order of opening."""
    timeout = settings.request_timeout_s
    async with contextlib.AsyncExitStack() as stack:
        children: tuple[ChildProcess, ...] = ()
        if settings.embedded:
            bootstrap, registry_url, children = await _embedded(stack, settings)
        else:
            assert settings.kafka_bootstrap_servers and settings.schema_registry_url
            bootstrap, registry_url = settings.kafka_bootstrap_servers, settings.schema_registry_url

        codec = OrderEventCodec(registry_url, settings.topic, timeout)
        await codec.start()
        admin = await stack.enter_async_context(KafkaAdmin.running(bootstrap, timeout))
        await admin.ensure_topic(
            settings.topic,
            settings.topic_partitions,
            settings.topic_replication_factor,
            ORDER_TOPIC_CONFIGS,
        )
        await _warn_if_events_expire(admin, settings.topic)
        await admin.ensure_topic(
            settings.dead_letters, 1, settings.topic_replication_factor, DEAD_LETTER_TOPIC_CONFIGS
        )
        if not settings.kafka_idempotence:
            log.warning(
                "the idempotent producer is off (SHOP_KAFKA_IDEMPOTENCE=false): a write that timed "
                "out can land after its retry with the same version; the view detects and counts "
                "it (/health versionConflicts). Use this only with a broker that lacks it"
            )
        publisher = await stack.enter_async_context(
            EventPublisher.running(bootstrap, settings.kafka_idempotence, timeout)
        )
        store = OrderStore()
        # Only the embedded broker can lose what it acknowledged; its data dir keeps our note.
        watermarks_path = settings.data_dir / "view" / f"{settings.topic}.ends.json"
        watermarks = await stack.enter_async_context(
            Watermarks(watermarks_path if settings.embedded else None, settings.topic).running()
        )
        view = OrderViewConsumer(
            bootstrap,
            settings.topic,
            settings.consumer_group,
            store,
            codec,
            DeadLetters(publisher, settings.dead_letters),
            watermarks,
            timeout,
        )
        await stack.enter_async_context(view.running())
        # Serve only a complete view: an update after a restart must find its order, and a create
        # must not reuse an id the topic already has.
        with _gc_paused_then_frozen():
            await view.wait_caught_up(max(MIN_CATCH_UP_S, timeout * CATCH_UP_TIMEOUTS))

        shared = Shared(settings, bootstrap, store, publisher, admin, codec, view)
        grace = settings.shutdown_grace_s
        cart_url = await _site(
            stack, create_cart_app(shared), settings.host, settings.cart_port, grace
        )
        orders_url = await _site(
            stack, create_orders_app(shared), settings.host, settings.orders_port, grace
        )
        yield RunningService(cart_url, orders_url, shared, children, bootstrap, registry_url)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM, from the first moment of start-up to the last."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        yield stop
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _first(*waits: Awaitable[T]) -> T:
    """The result of whichever of ``waits`` finishes first; the others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return done.pop().result()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _stopped(stop: asyncio.Event) -> None:
    await stop.wait()


async def serve(settings: Settings) -> int:
    with _stop_on_signals() as stop:
        async with contextlib.AsyncExitStack() as stack:
            # A signal while starting (a long catch-up, say) cancels the start-up, which closes
            # what it had opened, in reverse.
            service = await _first(
                stack.enter_async_context(running_service(settings)), _stopped(stop)
            )
            if service is None:
                print("shop: stopped while starting", file=sys.stderr, flush=True)
                return 0
            print(f"shop: cart API on {service.cart_url}", flush=True)
            print(f"shop: orders API on {service.orders_url}", flush=True)
            if service.children:
                print(f"shop: embedded Kafka broker on {service.broker}", flush=True)
                print(f"shop: embedded Schema Registry on {service.registry_url}", flush=True)
                print(f"shop: data in {settings.data_dir.resolve()}", flush=True)
            error = await _first(_stopped(stop), *(child.exited() for child in service.children))
            if error is not None:
                print(f"shop: {error}", file=sys.stderr, flush=True)
                return 1
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    """Load the settings and serve; a failure is one line on stderr and a non-zero exit."""
    try:
        settings = settings_module.load(argv)
    except SettingsError as exc:
        print(f"shop: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level != "DEBUG":
        # They log every registry request at INFO, /health's included: noise, not events.
        for noisy in ("httpx", "schema_registry"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        return asyncio.run(serve(settings))
    except (ChildError, StartupError) as exc:
        print(f"shop: {exc}", file=sys.stderr)
    except ShopError as exc:
        print(f"shop: {exc.message}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1
