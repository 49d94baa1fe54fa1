"""The service as a child ``python -m shop``, on its embedded broker and registry, or with
``--broker kafka`` on Apache Kafka (one KRaft node, tests/brokers.py) and the project's registry.

Each start gets free ports and the data directory and topic it is given, so measurements do not
mix; ``wait_ready`` returns the moment ``/health`` first reports the view caught up. On Kafka,
each data directory gets a broker and a registry of its own, started at its first service start
and kept for the later ones (as the embedded broker keeps its data dir), until ``close``. Several
services that share one broker (``apart=True``, the instances of one consumer group) get the same
on noida-db: a noida-db broker and the registry started by the benchmark, not by a service.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp
import psutil

# The tests' starter of Apache Kafka: formats a node's storage once, then runs kafka.Kafka.
from tests.brokers import kafka_broker, kafka_missing, kafka_nodes

from bench import cpu
from shop.children import ChildProcess, noida_broker, schema_registry

BROKERS = ("noida", "kafka")
# Which broker the services run on: "noida" (embedded) or "kafka"; set once by the command line.
broker = "noida"
_dependencies: dict[Path, Dependencies] = {}
_children = contextlib.AsyncExitStack()

# /health asks the broker and the registry at most once a second (later calls share the answer);
# 25 ms is the resolution of start-up and rebuild times.
POLL_INTERVAL_S = 0.025


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (another process may still take it before we do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class StackError(RuntimeError):
    """The service exited or did not become ready in time; the message names its log."""


@dataclasses.dataclass(frozen=True, slots=True)
class Health:
    healthy: bool
    caught_up: bool
    orders: int


@dataclasses.dataclass(slots=True)
class Service:
    process: subprocess.Popen[bytes]
    cart_url: str
    orders_url: str
    log_path: Path
    started_at: float  # time.monotonic() just before the process was spawned

    def rss_bytes(self) -> int:
        """Resident memory of the service process itself (not its broker and registry)."""
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def children_rss_bytes(self) -> int:
        """Resident memory of the embedded broker and registry together."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        return sum(int(child.memory_info().rss) for child in children)


async def start(
    data_dir: Path,
    topic: str,
    log_path: Path,
    settings: Mapping[str, str] | None = None,
    *,
    apart: bool = False,
    wrapper: Sequence[str] = (),
) -> Service:
    """Spawn the service; ``settings`` are more ``SHOP_`` variables (a scan limit, say).
    ``apart``: on the broker and registry of ``data_dir`` (:func:`dependencies`) even on noida-db,
    as every service on Kafka is. ``wrapper``: a command that runs the service (valgrind's)."""
    external = (await dependencies(data_dir)).settings if broker == "kafka" or apart else {}
    host = "127.0.0.1"
    cart_port, orders_port = free_port(host), free_port(host)
    env = {
        **os.environ,
        "SHOP_HOST": host,
        "SHOP_CART_PORT": str(cart_port),
        "SHOP_ORDERS_PORT": str(orders_port),
        "SHOP_EMBEDDED_KAFKA_PORT": str(free_port(host)),
        "SHOP_EMBEDDED_REGISTRY_PORT": str(free_port(host)),
        "SHOP_DATA_DIR": str(data_dir),
        "SHOP_TOPIC": topic,
        **(settings or {}),
    }
    for inherited in ("SHOP_KAFKA_BOOTSTRAP_SERVERS", "SHOP_SCHEMA_REGISTRY_URL"):
        env.pop(inherited, None)
    env.update(external)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        started_at = time.monotonic()
        # Popen (fork and exec, no wait) so the service's output goes straight to its log file.
        process = subprocess.Popen(  # noqa: ASYNC220
            [*wrapper, sys.executable, "-m", "shop"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Service(
        process, f"http://{host}:{cart_port}", f"http://{host}:{orders_port}", log_path, started_at
    )


async def health(session: aiohttp.ClientSession, service: Service) -> Health | None:
    """The orders ``/health``, or None while the port does not answer."""
    try:
        async with session.get(f"{service.orders_url}/health") as response:
            body = await response.json()
    except (TimeoutError, aiohttp.ClientError, ValueError):
        return None
    view = body.get("orderView", {})
    return Health(
        body.get("status") == "healthy", bool(view.get("caughtUp")), int(view.get("orders", 0))
    )


async def wait_ready(service: Service, orders: int = 0, timeout_s: float = 120.0) -> float:
    """Wait until both ports answer and the view is caught up with ``orders`` or more orders;
    return the monotonic time at which the orders port first said so."""
    deadline = time.monotonic() + timeout_s
    client_timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        while True:
            state = await health(session, service)
            now = time.monotonic()
            if state is not None and state.healthy and state.caught_up and state.orders >= orders:
                await _wait_cart(session, service, deadline)
                return now
            if service.process.poll() is not None:
                raise StackError(
                    f"the service exited with code {service.process.returncode}; "
                    f"see {service.log_path}"
                )
            if now > deadline:
                raise StackError(
                    f"the service was not caught up with {orders} orders within {timeout_s:.0f} s "
                    f"(last health: {state}); see {service.log_path}"
                )
            await asyncio.sleep(POLL_INTERVAL_S)


async def _wait_cart(session: aiohttp.ClientSession, service: Service, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{service.cart_url}/health") as response:
                if response.status == 200:
                    return
        except (TimeoutError, aiohttp.ClientError):
            pass
        await asyncio.sleep(POLL_INTERVAL_S)
    raise StackError(f"the cart port did not answer; see {service.log_path}")


async def order_count(service: Service) -> int:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        state = await health(session, service)
    if state is None:
        raise StackError(f"the orders port did not answer; see {service.log_path}")
    return state.orders


def stop(service: Service, grace_s: float = 30.0) -> None:
    """SIGTERM, as a person's Ctrl-C or a container stop would; kill after ``grace_s``."""
    if service.process.poll() is not None:
        return
    service.process.send_signal(signal.SIGTERM)
    try:
        service.process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        # The broker and registry run in sessions of their own; a killed service leaves them.
        children = psutil.Process(service.process.pid).children(recursive=True)
        service.process.kill()
        service.process.wait()
        for child in children:
            child.kill()


@dataclasses.dataclass(frozen=True, slots=True)
class Dependencies:
    """A broker and the project's registry, running apart from any service."""

    settings: dict[str, str]  # SHOP_KAFKA_BOOTSTRAP_SERVERS and SHOP_SCHEMA_REGISTRY_URL
    children: tuple[ChildProcess, ...]

    def cpu_seconds(self) -> float:
        """CPU seconds the broker and the registry have used so far."""
        return sum(cpu.seconds(child.pid) for child in self.children if child.pid is not None)


async def dependencies(data_dir: Path) -> Dependencies:
    """The broker (``broker``'s kind) and registry of ``data_dir``, started on first use."""
    if data_dir not in _dependencies:
        host = "127.0.0.1"
        if broker == "kafka":
            if (missing := kafka_missing()) is not None:
                raise StackError(f"--broker kafka: {missing}")
            node = kafka_nodes(data_dir, 1)[0]
            kafka, bootstrap = kafka_broker(node, [node]), node.bootstrap
        else:
            port = free_port(host)
            kafka = noida_broker(host, port, data_dir / "kafka", data_dir / "logs" / "kafka.log")
            bootstrap = f"{host}:{port}"
        await _children.enter_async_context(kafka.running())
        port = free_port(host)
        registry = schema_registry(host, port, bootstrap, data_dir / "logs" / "registry.log")
        await _children.enter_async_context(registry.running())
        settings = {
            "SHOP_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "SHOP_SCHEMA_REGISTRY_URL": f"http://{host}:{port}",
        }
        _dependencies[data_dir] = Dependencies(settings, (kafka, registry))
    return _dependencies[data_dir]


async def close() -> None:
    """Stop every broker and registry :func:`dependencies` started."""
    await _children.aclose()
    _dependencies.clear()
