"""SIGTERM stops ``python -m shop`` within seconds, whatever its clients are doing.

The service runs as a subprocess against the session's broker and registry.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from tests.brokers import free_port
from tests.waiting import unique

START_TIMEOUT = 90.0
EXIT_WITHIN_S = 10.0


async def test_sigterm_exits_within_10_s_despite_idle_and_slow_clients(
    bootstrap_servers: str, registry_url: str, kafka_idempotence: bool, tmp_path: Path
) -> None:
    """With keep-alive clients idle and a client stuck mid-body, SIGTERM exits 0 within 10 s."""
    cart, orders = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHOP_")}
    env.update(
        SHOP_KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers,
        SHOP_SCHEMA_REGISTRY_URL=registry_url,
        SHOP_KAFKA_IDEMPOTENCE=str(kafka_idempotence).lower(),
        SHOP_CART_PORT=str(cart),
        SHOP_ORDERS_PORT=str(orders),
        SHOP_TOPIC=unique("order-events"),
        SHOP_CONSUMER_GROUP=unique("shop-orders"),
    )
    with (tmp_path / "shop.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "shop", env=env, stdout=asyncio.subprocess.PIPE, stderr=log
        )
    writers: list[asyncio.StreamWriter] = []
    try:
        assert process.stdout is not None
        async with asyncio.timeout(START_TIMEOUT):
            while b"orders API on" not in (line := await process.stdout.readline()):
                assert line, f"python -m shop exited while starting; see {tmp_path / 'shop.log'}"

        for port in (cart, orders):
            writers.append(await _idle_keep_alive(port))
        writers.append(await _half_a_create(cart))  # it never sends the rest

        process.send_signal(signal.SIGTERM)
        started = asyncio.get_running_loop().time()

        code = await asyncio.wait_for(process.wait(), timeout=EXIT_WITHIN_S)
        took = asyncio.get_running_loop().time() - started
        assert code == 0
        assert took < EXIT_WITHIN_S, f"exited {took:.1f} s after SIGTERM"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        for each in writers:
            each.close()


async def _idle_keep_alive(port: int) -> asyncio.StreamWriter:
    """A connection that made one request, read its answer, and stays open, idle."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: shop\r\n\r\n")
    status = await reader.readline()
    assert status.startswith(b"HTTP/1.1 "), status
    length = 0
    while (header := await reader.readline()) != b"\r\n":
        name, _, value = header.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return writer


async def _half_a_create(port: int) -> asyncio.StreamWriter:
    """A create-order in flight (its handler answered 100-continue) with half its body sent."""
    body = json.dumps({"orderId": unique("ORDER"), "itemsCount": 1}).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /create-order HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    assert (await reader.readline()).startswith(b"HTTP/1.1 100"), "100-continue"
    assert await reader.readline() == b"\r\n"
    writer.write(body[: len(body) // 2])
    await writer.drain()
    return writer
