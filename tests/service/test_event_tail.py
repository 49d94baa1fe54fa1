"""``shop events`` and ``shop dead-letters`` as a person runs them: the console script in a real
process, on the session's broker and registry."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import struct
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aiohttp
from aiokafka import AIOKafkaProducer

from shop.main import RunningService
from tests.brokers import free_port
from tests.processes import finished
from tests.service.helpers import create, put_status, records_of
from tests.waiting import unique, wait_until

SHOP = str(Path(sys.executable).with_name("shop"))
# Columns of a text row: partition, offset, key, version, event, status, total, time.
PARTITION, OFFSET, KEY, VERSION, EVENT, STATUS, TOTAL, TIME = range(8)


@dataclasses.dataclass
class Ran:
    code: int
    lines: list[str]
    err: str

    @property
    def rows(self) -> list[list[str]]:
        """The text rows under the header, split into their columns."""
        assert self.lines[0].split()[:3] == ["PARTITION", "OFFSET", "KEY"], self.lines
        return [line.split() for line in self.lines[1:]]


def _env() -> dict[str, str]:
    """The test's environment without SHOP_* settings: the flags say where everything is."""
    return {name: value for name, value in os.environ.items() if not name.startswith("SHOP_")}


def _where(service: RunningService) -> list[str]:
    return [
        "--bootstrap-servers",
        service.broker,
        "--schema-registry-url",
        service.registry_url,
        "--topic",
        service.settings.topic,
    ]


async def shop(*args: str) -> Ran:
    process = await asyncio.create_subprocess_exec(
        SHOP, *args, env=_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await finished(process, 60, f"shop {' '.join(args)}")
    assert process.returncode is not None
    return Ran(process.returncode, out.decode().splitlines(), err.decode())


@dataclasses.dataclass
class Following:
    process: asyncio.subprocess.Process
    lines: list[str]

    async def line_with(self, text: str) -> str:
        async def found() -> str | None:
            return next((line for line in self.lines if text in line), None)

        return await wait_until(found, timeout=30, what=f"a line with {text}")

    async def interrupted(self) -> tuple[int, str]:
        """Ctrl-C: its exit status and stderr."""
        self.process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(self.process.wait(), 30)
        assert self.process.stderr is not None
        return code, (await self.process.stderr.read()).decode()


def _ctrl_c_as_at_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.asynccontextmanager
async def following(*args: str) -> AsyncIterator[Following]:
    """``shop events --follow`` running, its stdout collected line by line as it comes."""
    process = await asyncio.create_subprocess_exec(
        SHOP,
        "events",
        "--follow",
        *args,
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # A shell without job control starts background jobs with SIGINT ignored, and children
        # inherit that (a CI step run with '&' did): Ctrl-C must reach this one as at a terminal.
        preexec_fn=_ctrl_c_as_at_a_terminal,
    )
    tail = Following(process, [])

    async def collect() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            tail.lines.append(line.decode().rstrip("\n"))

    collecting = asyncio.create_task(collect())
    try:
        yield tail
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await asyncio.wait_for(collecting, 10)


async def test_events_of_one_order_are_listed_in_order_from_its_partition(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """``shop events --order ID`` prints each event of the order, versions 1..N with their types,
    statuses and total, at the partition and offset where the record really is."""
    order = await create(http, service.cart_url, unique("ORDER"))
    order_id = order["orderId"]
    for status in ("confirmed", "shipped"):
        assert await put_status(http, service.cart_url, order_id, status) == 200

    ran = await shop("events", "--order", order_id, *_where(service))

    assert ran.code == 0, ran.err
    rows = ran.rows
    assert [row[KEY] for row in rows] == [order_id] * 3
    assert [row[VERSION] for row in rows] == ["1", "2", "3"]
    assert [row[EVENT] for row in rows] == ["ORDER_CREATED", "ORDER_UPDATED", "ORDER_UPDATED"]
    assert [row[STATUS] for row in rows] == ["new", "confirmed", "shipped"]
    assert {Decimal(row[TOTAL]) for row in rows} == {order["totalAmount"]}
    settings = service.settings
    records = await records_of(service.broker, settings.topic, settings.topic_partitions, order_id)
    assert [(int(row[PARTITION]), int(row[OFFSET])) for row in rows] == [
        (record.partition, record.offset) for record in records
    ]


async def test_json_lines_parse_and_hold_the_event(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """``--format json`` prints one JSON object per event, money exact, nothing else on stdout."""
    order = await create(http, service.cart_url, unique("ORDER"))
    order_id = order["orderId"]
    assert await put_status(http, service.cart_url, order_id, "cancelled") == 200

    ran = await shop("events", "--order", order_id, "--format", "json", *_where(service))

    assert ran.code == 0, ran.err
    events = [json.loads(line, parse_float=Decimal) for line in ran.lines]
    assert [(e["orderVersion"], e["eventType"], e["status"]) for e in events] == [
        (1, "ORDER_CREATED", "new"),
        (2, "ORDER_UPDATED", "cancelled"),
    ]
    for event in events:
        assert (event["key"], event["orderId"], event["error"]) == (order_id, order_id, None)
        assert event["totalAmount"] == order["totalAmount"]
        assert event["eventTime"].endswith("Z")
        assert event["timestamp"].endswith("Z")


async def test_records_that_are_not_order_events_are_shown_with_the_reason(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """Raw bytes and an unknown schema id between two events are rows of their own that say why
    they are no event; the events around them are still decoded."""
    order_id = (await create(http, service.cart_url, unique("ORDER")))["orderId"]
    unknown_schema = struct.pack(">bI", 0, 2_000_000_000) + b"\x00\x02"
    producer = AIOKafkaProducer(bootstrap_servers=service.broker)
    await producer.start()
    try:
        for value in (b"not avro at all", unknown_schema):
            await producer.send_and_wait(service.settings.topic, value, key=order_id.encode())
    finally:
        await producer.stop()
    assert await put_status(http, service.cart_url, order_id, "confirmed") == 200

    text = await shop("events", "--order", order_id, *_where(service))
    as_json = await shop("events", "--order", order_id, "--format", "json", *_where(service))

    assert (text.code, as_json.code) == (0, 0), text.err + as_json.err
    rows = text.rows
    assert [row[EVENT] for row in rows] == [
        "ORDER_CREATED",
        "NOT_AN_EVENT",
        "NOT_AN_EVENT",
        "ORDER_UPDATED",
    ]
    assert "Confluent wire format" in text.lines[2]
    assert "schema id 2000000000 is unknown" in text.lines[3]
    errors = [json.loads(line)["error"] for line in as_json.lines]
    assert errors[0] is None
    assert errors[3] is None
    assert "Confluent wire format" in errors[1]
    assert "unknown" in errors[2]


async def test_the_last_events_of_the_topic_are_printed_in_time_order(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """``shop events --last N`` prints the N latest events of every partition together, oldest
    first; ``--from-beginning`` goes back further."""
    first = (await create(http, service.cart_url, unique("ORDER")))["orderId"]
    assert await put_status(http, service.cart_url, first, "confirmed") == 200
    second = (await create(http, service.cart_url, unique("ORDER")))["orderId"]

    last = await shop("events", "--last", "2", *_where(service))
    everything = await shop("events", "--from-beginning", "--format", "json", *_where(service))

    assert (last.code, everything.code) == (0, 0), last.err + everything.err
    # Two writes in the same millisecond may come in either order: compare as a set.
    assert {(row[KEY], row[VERSION]) for row in last.rows} == {(first, "2"), (second, "1")}
    times = [row[TIME] for row in last.rows]
    assert times == sorted(times)
    assert len(times) == 2
    seen = {(e["key"], e["orderVersion"]) for e in map(json.loads, everything.lines)}
    assert {(first, 1), (first, 2), (second, 1)} <= seen


async def test_follow_prints_new_events_until_ctrl_c(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """``shop events --follow`` prints an event written after it started; Ctrl-C ends it with
    exit 0 and no traceback."""
    async with following(*_where(service)) as tail:
        await tail.line_with("PARTITION")
        order_id = (await create(http, service.cart_url, unique("ORDER")))["orderId"]
        row = (await tail.line_with(order_id)).split()
        code, err = await tail.interrupted()

    assert (row[VERSION], row[EVENT], row[STATUS]) == ("1", "ORDER_CREATED", "new")
    assert code == 0, err
    assert "Traceback" not in err


async def test_following_an_order_that_has_no_events_yet_says_so_then_shows_them(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """``--order ID --follow`` on an order without events says there are none yet, then prints
    the order's events (and no other order's) as they come."""
    order_id = unique("ORDER")
    async with following("--order", order_id, *_where(service)) as tail:
        await tail.line_with("PARTITION")
        other = (await create(http, service.cart_url, unique("ORDER")))["orderId"]
        await create(http, service.cart_url, order_id)
        assert await put_status(http, service.cart_url, order_id, "shipped") == 200
        await tail.line_with("shipped")
        code, err = await tail.interrupted()

    assert code == 0, err
    assert f"no events of order {order_id}" in err
    assert "waiting" in err
    assert [line.split()[VERSION] for line in tail.lines[1:]] == ["1", "2"]
    assert not any(other in line for line in tail.lines)


async def test_an_order_without_events_is_said_plainly(service: RunningService) -> None:
    """Without ``--follow``, an order with no events is one line on stderr and exit 1."""
    order_id = unique("ORDER")

    ran = await shop("events", "--order", order_id, *_where(service))

    assert ran.code == 1
    assert ran.lines == []
    [said] = ran.err.strip().splitlines()
    assert said.startswith(f"shop: no events of order {order_id} on {service.settings.topic} ")


async def test_a_broker_registry_or_topic_that_is_not_there_is_one_line_and_exit_1(
    service: RunningService,
) -> None:
    """No broker, no registry, or no such topic: one line on stderr, exit 1, well within 10 s."""
    nowhere = f"127.0.0.1:{free_port()}"
    loop = asyncio.get_running_loop()
    for args, said in [
        (
            ["--bootstrap-servers", nowhere],
            f"Kafka is unreachable or refused the request while connecting to {nowhere}",
        ),
        (["--schema-registry-url", f"http://{nowhere}"], f"Schema Registry at http://{nowhere}"),
        (["--topic", unique("missing")], "does not exist"),
    ]:
        started = loop.time()
        ran = await shop("events", *_where(service), *args)
        assert loop.time() - started < 10
        assert ran.code == 1, ran.err
        assert ran.lines == []
        [line] = ran.err.strip().splitlines()
        assert said in line
    letters = await shop("dead-letters", "list", "--bootstrap-servers", nowhere)
    assert letters.code == 1
    [line] = letters.err.strip().splitlines()
    assert nowhere in line


async def test_dead_letters_are_listed_and_replayed(service: RunningService) -> None:
    """``shop dead-letters list`` shows a record the view refused; ``replay N`` puts it back on the
    order topic, where ``shop events`` shows it twice."""
    key = unique("ORDER")
    producer = AIOKafkaProducer(bootstrap_servers=service.broker)
    await producer.start()
    try:
        await producer.send_and_wait(service.settings.topic, b"not an event", key=key.encode())
    finally:
        await producer.stop()
    where = ["--bootstrap-servers", service.broker, "--topic", service.settings.topic]

    async def listed() -> str | None:
        ran = await shop("dead-letters", "list", *where)
        assert ran.code == 0, ran.err
        return next((line for line in ran.lines if key in line), None)

    letter = await wait_until(listed, timeout=30, what="the dead letter")
    offset = letter.split("\t")[0]
    replayed = await shop("dead-letters", "replay", offset, *where)

    assert replayed.code == 0, replayed.err
    assert replayed.lines[0].startswith(
        f"replayed dead letter {offset} to {service.settings.topic}-"
    )
    ran = await shop("events", "--order", key, *_where(service))
    assert [row[EVENT] for row in ran.rows] == ["NOT_AN_EVENT", "NOT_AN_EVENT"]
    missing = await shop("dead-letters", "replay", "999999", *where)
    assert missing.code == 1
    assert (
        missing.err.strip()
        == f"shop: {service.settings.dead_letters} has no record at offset 999999"
    )
