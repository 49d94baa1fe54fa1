"""``python -m shop``: open the service's components and serve cart and orders on their ports.

Each component is opened in dependency order on one :class:`contextlib.AsyncExitStack` and closed
in reverse: the broker and registry (embedded children when none is configured), the codec, the
admin client and the topics, the publisher, the order view (caught up before any port serves),
then the order writer, the topic reader and the health probes, and one runner per sub-app, each
given only the components it uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from typing import TypeVar

import uvloop
from aiohttp import web

from shop import gc_tuning, topics
from shop import settings as settings_module
from shop.cart.app import create_app as create_cart_app
from shop.cart.writer import OrderWriter
from shop.children import ChildError, ChildProcess
from shop.codec import OrderEventCodec
from shop.embedded import open_dependencies
from shop.errors import ShopError, StartupError
from shop.health import HealthProbes
from shop.kafka import EventPublisher, KafkaAdmin
from shop.observability import logs
from shop.observability.metrics import Metrics
from shop.orders.app import create_app as create_orders_app
from shop.orders.group_consumer import SESSION_TIMEOUT_S
from shop.orders.view import OrderView, running_order_view
from shop.ownership import Instance, Ownership
from shop.routing import Router
from shop.settings import Settings, SettingsError
from shop.topic_scan import TopicReader

log = logging.getLogger("shop")
T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class RunningService:
    """Where the service listens, and its components (tests and the benchmark look inside)."""

    settings: Settings
    cart_url: str
    orders_url: str
    broker: str
    registry_url: str
    codec: OrderEventCodec
    admin: KafkaAdmin
    publisher: EventPublisher
    view: OrderView
    ownership: Ownership
    children: tuple[ChildProcess, ...] = ()


def _bound(stack: contextlib.ExitStack, host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: a free one), not listening yet: connections are
    refused until its site serves, and the port is known before the group is joined."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = stack.enter_context(socket.socket(family, kind, proto))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _advertised(configured: str | None, sock: socket.socket) -> str:
    """Where the other instances reach this socket's API: the configured URL, else this
    address, named by the machine's host name when it is a wildcard."""
    if configured is not None:
        return configured
    host, port = sock.getsockname()[:2]
    if ipaddress.ip_address(host).is_unspecified:
        host = socket.gethostname()
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


async def _serve(
    stack: contextlib.AsyncExitStack, app: web.Application, sock: socket.socket, grace_s: float
) -> None:
    # On shutdown idle keep-alive connections close at once, and requests in flight get grace_s
    # before they are cancelled (aiohttp's default is 60 s). aiohttp drops what a client sends
    # after shutdown began, so a body still arriving cannot finish: it only holds the grace.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=grace_s)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.SockSite(runner, sock).start()


@contextlib.asynccontextmanager
async def running_service(settings: Settings) -> AsyncIterator[RunningService]:
    """The whole service, serving until the block exits; closed in reverse order of opening."""
    timeout = settings.request_timeout_s
    metrics = Metrics()
    async with contextlib.AsyncExitStack() as stack:
        dependencies = await open_dependencies(stack, settings)
        bootstrap = dependencies.bootstrap_servers
        sockets = stack.enter_context(contextlib.ExitStack())
        cart_socket = _bound(sockets, settings.host, settings.cart_port)
        orders_socket = _bound(sockets, settings.host, settings.orders_port)
        me = Instance(
            _advertised(settings.advertised_cart_url, cart_socket),
            _advertised(settings.advertised_orders_url, orders_socket),
        )
        ownership = await stack.enter_async_context(Ownership(me, SESSION_TIMEOUT_S).running())
        codec = OrderEventCodec(dependencies.registry_url, settings.topic, timeout)
        await codec.start()
        admin = await stack.enter_async_context(KafkaAdmin.running(bootstrap, timeout))
        await topics.ensure_topics(admin, settings)
        if not settings.kafka_idempotence:
            log.warning(
                "the idempotent producer is off (SHOP_KAFKA_IDEMPOTENCE=false): a write that timed "
                "out can land after its retry with the same version; the view keeps the first, "
                "counts the other (/health versionConflicts) and the retry answers 503. Use this "
                "only with a broker that lacks it"
            )
        publisher = await stack.enter_async_context(
            EventPublisher.running(bootstrap, settings.kafka_idempotence, timeout, metrics)
        )
        view = await stack.enter_async_context(
            running_order_view(settings, bootstrap, codec, publisher, ownership)
        )

        metrics.watch_view(view.consumer)
        writer = OrderWriter(
            view.store, publisher, codec, settings.topic, view.consumer, ownership, timeout
        )
        router = await stack.enter_async_context(
            Router(ownership, view.consumer, timeout).running()
        )
        reader = TopicReader(
            bootstrap,
            admin,
            settings.scannable_topics,
            max_records=settings.scan_max_records,
            timeout_s=timeout,
            concurrency=settings.scan_concurrency,
        )
        health = HealthProbes(admin, codec, publisher, view.consumer, ownership, timeout)
        grace = settings.shutdown_grace_s
        await _serve(stack, create_cart_app(writer, router, health, metrics), cart_socket, grace)
        orders_app = create_orders_app(view.store, router, reader, health, metrics)
        await _serve(stack, orders_app, orders_socket, grace)
        yield RunningService(
            settings,
            _url(cart_socket),
            _url(orders_socket),
            bootstrap,
            dependencies.registry_url,
            codec,
            admin,
            publisher,
            view,
            ownership,
            dependencies.children,
        )


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
            print("shop: stopping", flush=True)
    print("shop: stopped", flush=True)
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    """Load the settings and serve; a failure is one line on stderr and a non-zero exit."""
    try:
        settings = settings_module.load(argv)
    except SettingsError as exc:
        print(f"shop: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    gc_tuning.tune_for_serving()
    try:
        # uvloop: measured on the service (#12), fewer µs of CPU per request than asyncio's loop.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(serve(settings))
    except (ChildError, StartupError) as exc:
        print(f"shop: {exc}", file=sys.stderr)
    except ShopError as exc:
        print(f"shop: {exc.message}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1
