"""``python -m shop`` as a user runs it: the embedded default, restarts and one-line failures.

These start the whole embedded stack (noida-db and the registry) as the command does, whatever
broker the session uses; the tansu run skips them (they would repeat the noida run).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.brokers import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.embedded

START_TIMEOUT = 90.0


@dataclass
class Shop:
    process: asyncio.subprocess.Process
    ports: dict[str, int]
    stdout: list[str]

    @property
    def cart(self) -> str:
        return f"http://127.0.0.1:{self.ports['SHOP_CART_PORT']}"

    @property
    def orders(self) -> str:
        return f"http://127.0.0.1:{self.ports['SHOP_ORDERS_PORT']}"

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout=30)


def shop_env(data_dir: Path, ports: dict[str, int], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
    env.update({key: str(port) for key, port in ports.items()})
    env["SHOP_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def fresh_ports() -> dict[str, int]:
    keys = (
        "SHOP_CART_PORT",
        "SHOP_ORDERS_PORT",
        "SHOP_EMBEDDED_KAFKA_PORT",
        "SHOP_EMBEDDED_REGISTRY_PORT",
    )
    return {key: free_port() for key in keys}


async def spawn(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shop",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_lines(stream: asyncio.StreamReader | None) -> list[str]:
    assert stream is not None
    return (await stream.read()).decode().splitlines()


@asynccontextmanager
async def running_shop(data_dir: Path, ports: dict[str, int], **env: str) -> AsyncIterator[Shop]:
    """``python -m shop`` until it has printed where everything listens; stopped on exit."""
    process = await spawn(shop_env(data_dir, ports, **env))
    shop = Shop(process, ports, [])
    assert process.stdout is not None
    try:
        async with asyncio.timeout(START_TIMEOUT):
            # In embedded mode the last line it prints on start-up names the data directory.
            while not any(line.startswith("shop: data in") for line in shop.stdout):
                line = await process.stdout.readline()
                if not line:
                    stderr = await read_lines(process.stderr)
                    raise AssertionError(f"python -m shop exited while starting: {stderr}")
                shop.stdout.append(line.decode().rstrip())
        yield shop
    finally:
        if process.returncode is None:
            process.terminate()  # lets it stop its children in order
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def closed(port: int) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return not listening(port)

    return probe


async def test_embedded_default_prints_where_everything_listens(tmp_path: Path) -> None:
    """With no broker configured it starts noida-db and the registry and says where all listen."""
    ports = fresh_ports()
    async with running_shop(tmp_path, ports) as shop:
        printed = "\n".join(shop.stdout)
        assert f"cart API on {shop.cart}" in printed
        assert f"orders API on {shop.orders}" in printed
        assert f"embedded Kafka broker on 127.0.0.1:{ports['SHOP_EMBEDDED_KAFKA_PORT']}" in printed
        registry = f"http://127.0.0.1:{ports['SHOP_EMBEDDED_REGISTRY_PORT']}"
        assert f"embedded Schema Registry on {registry}" in printed
        assert f"data in {tmp_path.resolve()}" in printed  # noqa: ASYNC240
        async with aiohttp.ClientSession() as http:
            for base in (shop.cart, shop.orders):
                async with http.get(f"{base}/health") as response:
                    assert response.status == 200
                    body = await response.json()
                    assert body["kafka"] == "connected"
                    assert body["schemaRegistry"] == "connected"
        assert await shop.stop() == 0
        stdout = await read_lines(shop.process.stdout)
        stderr = await read_lines(shop.process.stderr)
    assert stdout[-2:] == ["shop: stopping", "shop: stopped"]
    # The service's own lines, not the client library's routine chatter.
    assert not [line for line in stderr if " INFO aiokafka" in line]
    assert any(" INFO shop." in line and "order view caught up" in line for line in stderr)
    # the children went with it
    assert not listening(ports["SHOP_EMBEDDED_KAFKA_PORT"])
    assert not listening(ports["SHOP_EMBEDDED_REGISTRY_PORT"])


async def test_json_logs_are_one_object_a_line_with_request_ids(tmp_path: Path) -> None:
    """With SHOP_LOG_FORMAT=json every line on stderr is one JSON object, a request's line carries
    its method, path, status, duration and X-Request-ID; a malformed request is one INFO line."""
    async with running_shop(tmp_path, fresh_ports(), SHOP_LOG_FORMAT="json") as shop:
        async with aiohttp.ClientSession() as http:
            body = {"orderId": "JSON-LOG-1", "itemsCount": 1}
            headers = {"X-Request-ID": "json-log-1"}
            async with http.post(f"{shop.cart}/create-order", json=body, headers=headers) as r:
                assert (r.status, r.headers["X-Request-ID"]) == (201, "json-log-1")
        # A request aiohttp cannot parse is answered by aiohttp itself, before our code.
        reader, writer = await asyncio.open_connection("127.0.0.1", shop.ports["SHOP_CART_PORT"])
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: \x00\r\n\r\n")
        assert (await reader.readline()).startswith(b"HTTP/1.0 400")
        writer.close()
        assert await shop.stop() == 0
        stderr = await read_lines(shop.process.stderr)
    entries = [json.loads(line) for line in stderr]
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    [request] = [entry for entry in entries if entry.get("request_id") == "json-log-1"]
    assert (request["logger"], request["method"], request["path"]) == (
        "shop.cart",
        "POST",
        "/create-order",
    )
    assert (request["status"], request["level"]) == (201, "INFO")
    assert request["duration_ms"] > 0
    # A client's malformed request is one INFO line, not an ERROR with a traceback.
    [malformed] = [entry for entry in entries if entry["logger"] == "aiohttp.server"]
    assert malformed["level"] == "INFO"
    assert malformed["message"].startswith("malformed HTTP request from 127.0.0.1 answered 400")
    assert not [entry for entry in entries if "exception" in entry]


@pytest.mark.persistence
async def test_orders_survive_a_restart_of_the_whole_stack(tmp_path: Path) -> None:
    """An order created before a restart is served after it, and can be updated."""
    ports = fresh_ports()
    async with aiohttp.ClientSession() as http:
        async with running_shop(tmp_path, ports) as shop:
            body = {"orderId": "RESTART-1", "itemsCount": 2}
            async with http.post(f"{shop.cart}/create-order", json=body) as response:
                assert response.status == 201
                created = (await response.json())["order"]
            assert await shop.stop() == 0

        async with running_shop(tmp_path, ports) as shop:
            url = f"{shop.orders}/order-details?orderId=RESTART-1"
            async with http.get(url) as response:
                assert response.status == 200
                details = await response.json()
            assert {k: v for k, v in details.items() if k != "shippingCost"} == created
            update = {"orderId": "RESTART-1", "status": "confirmed"}
            async with http.put(f"{shop.cart}/update-order", json=update) as response:
                assert response.status == 200
                assert (await response.json())["order"]["status"] == "confirmed"
            body = {"orderId": "RESTART-1", "itemsCount": 1}
            async with http.post(f"{shop.cart}/create-order", json=body) as response:
                assert response.status == 409
            assert await shop.stop() == 0


async def test_a_restart_after_the_embedded_broker_lost_acknowledged_orders_says_so(
    tmp_path: Path,
) -> None:
    """The service and noida-db SIGKILLed together right after a burst of 201s: the restarted
    service reports on /health the records the broker lost, and never reports a loss that was
    not (tried until noida-db does lose some: it saves about once a second)."""
    ports = fresh_ports()
    saved = tmp_path / "kafka" / "kafka.json"
    async with aiohttp.ClientSession() as http:
        for attempt in range(5):
            async with running_shop(tmp_path, ports) as shop:

                async def topic_saved() -> bool:
                    return saved.exists() and b"order-events" in saved.read_bytes()

                await wait_until(topic_saved, what="noida-db to save the topic")
                acked = []
                for number in range(40):
                    order_id = f"LOSS-{attempt}-{number}"
                    body = {"orderId": order_id, "itemsCount": 1}
                    async with http.post(f"{shop.cart}/create-order", json=body) as response:
                        assert response.status == 201
                    acked.append(order_id)
                broker = pid_running_with(f"--kafka-port\x00{ports['SHOP_EMBEDDED_KAFKA_PORT']}")
                os.kill(broker, signal.SIGKILL)
                shop.process.kill()
                await shop.process.wait()
            for key in ("SHOP_EMBEDDED_KAFKA_PORT", "SHOP_EMBEDDED_REGISTRY_PORT"):
                await wait_until(closed(ports[key]), what=f"nothing listening on {key}")

            async with running_shop(tmp_path, ports) as shop:
                async with http.get(f"{shop.orders}/health") as response:
                    loss = (await response.json())["orderView"]["logLoss"]
                lost = []
                for order_id in acked:
                    url = f"{shop.orders}/order-details?orderId={order_id}"
                    async with http.get(url) as response:
                        if response.status == 404:
                            lost.append(order_id)
                if not lost:
                    assert loss is None
                    assert await shop.stop() == 0
                    continue
                assert loss is not None
                # A lower bound: the service's note trails its last writes by up to 50 ms.
                assert 1 <= loss["recordsLost"] <= len(lost)
                assert await shop.stop() == 0
            async with running_shop(tmp_path, ports) as shop:
                async with http.get(f"{shop.orders}/health") as response:
                    assert (await response.json())["orderView"]["logLoss"] is None  # said once
                return
    pytest.fail("noida-db lost none of 40 orders in 5 kills")


async def test_children_do_not_outlive_a_killed_service(tmp_path: Path) -> None:
    """A service killed with SIGKILL cannot stop its children, so the kernel does: ports free up."""
    ports = fresh_ports()
    async with running_shop(tmp_path, ports) as shop:
        shop.process.kill()
        await shop.process.wait()
        for key in ("SHOP_EMBEDDED_KAFKA_PORT", "SHOP_EMBEDDED_REGISTRY_PORT"):
            await wait_until(closed(ports[key]), what=f"nothing listening on {key}")


async def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """A taken port stops start-up with one line naming the port and the setting."""
    ports = fresh_ports()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports["SHOP_CART_PORT"]))
        taken.listen()
        process = await spawn(shop_env(tmp_path, ports))
        code = await asyncio.wait_for(process.wait(), timeout=30)
        stderr = await read_lines(process.stderr)
    assert code == 1
    assert stderr == [
        f"shop: port {ports['SHOP_CART_PORT']} for the cart API is already in use: "
        "stop what listens there or set SHOP_CART_PORT"
    ]


async def test_a_dying_broker_stops_the_service_with_one_line(tmp_path: Path) -> None:
    """When the embedded broker dies the service says so in one line, stops the rest, exits 1."""
    ports = fresh_ports()
    async with running_shop(tmp_path, ports) as shop:
        broker_pid = pid_running_with(f"--kafka-port\x00{ports['SHOP_EMBEDDED_KAFKA_PORT']}")
        os.kill(broker_pid, signal.SIGKILL)
        code = await asyncio.wait_for(shop.process.wait(), timeout=30)
        stderr = await read_lines(shop.process.stderr)
    assert code == 1
    errors = [line for line in stderr if line.startswith("shop: ")]
    assert errors == [
        "shop: the embedded Kafka broker (noida-db) exited unexpectedly with code -9; "
        f"see {tmp_path / 'logs' / 'kafka.log'}"
    ]
    assert not any("Traceback" in line for line in stderr)
    assert not listening(ports["SHOP_EMBEDDED_REGISTRY_PORT"])


async def test_a_data_directory_that_cannot_be_made_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """A data directory under a file (or anywhere it cannot be created) is named in one line."""
    (tmp_path / "a-file").write_text("")
    data_dir = tmp_path / "a-file" / "data"
    process = await spawn(shop_env(data_dir, fresh_ports()))
    code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code == 1
    assert await read_lines(process.stderr) == [
        f"shop: cannot create the data directory {data_dir / 'kafka'}: Not a directory"
    ]


async def test_a_signal_while_starting_stops_what_had_started(tmp_path: Path) -> None:
    """SIGTERM in the middle of start-up stops the children already started and exits 0."""
    ports = fresh_ports()
    process = await spawn(shop_env(tmp_path, ports))
    assert process.stderr is not None
    async with asyncio.timeout(START_TIMEOUT):
        while b"embedded Kafka broker (noida-db) is ready" not in await process.stderr.readline():
            pass
    process.send_signal(signal.SIGTERM)  # the registry is starting now
    code = await asyncio.wait_for(process.wait(), timeout=30)
    stderr = await read_lines(process.stderr)
    assert code == 0
    assert "shop: stopped while starting" in stderr
    assert not any("Traceback" in line for line in stderr)
    assert not listening(ports["SHOP_EMBEDDED_KAFKA_PORT"])
    assert not listening(ports["SHOP_EMBEDDED_REGISTRY_PORT"])


async def test_a_bad_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A malformed variable stops start-up before anything starts, naming the variable."""
    env = shop_env(tmp_path, fresh_ports(), SHOP_TOPIC_PARTITIONS="three")
    process = await spawn(env)
    code = await asyncio.wait_for(process.wait(), timeout=30)
    assert code == 2
    assert await read_lines(process.stderr) == [
        "shop: SHOP_TOPIC_PARTITIONS must be a whole number, not 'three'"
    ]


def pid_running_with(argument: str) -> int:
    """The pid of the process whose command line holds ``argument`` (NUL-separated words)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if argument in cmdline:
            return int(entry.name)
    raise AssertionError(f"no process runs with {argument!r}")
