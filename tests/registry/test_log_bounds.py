"""The _schemas log waits on Kafka only as long as its timeout, and maps a record Kafka refuses
for its size to Confluent's 42209."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from shop.errors import StartupError
from shop.registry.errors import SchemaTooLarge
from shop.registry.log import SchemaLog
from shop.registry.records import Record
from tests.brokers import free_port
from tests.waiting import unique

TIMEOUT = 1.0
# generous, so that only a wait without a bound fails (aiokafka alone waits 40 s a request)
DEADLINE = 15 * TIMEOUT


def ignore(key: bytes, value: bytes | None) -> None:
    """Records are not looked at here."""


async def _start_and_close(bootstrap: str) -> StartupError:
    log = SchemaLog(bootstrap, unique("_schemas-bounds"), TIMEOUT, ignore)
    async with asyncio.timeout(DEADLINE):
        try:
            with pytest.raises(StartupError) as raised:
                await log.start()
        finally:
            await log.close()
    return raised.value


async def test_start_fails_promptly_when_nothing_listens() -> None:
    """A bootstrap address nobody listens on fails start-up with an error naming the step."""
    bootstrap = f"127.0.0.1:{free_port()}"
    error = await _start_and_close(bootstrap)
    assert bootstrap in str(error) and "admin client" in str(error)


@pytest.fixture
async def silent_bootstrap() -> AsyncIterator[str]:
    """An address that accepts connections and never answers, as a hung broker does."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_start_gives_up_within_its_timeout_when_kafka_never_answers(
    silent_bootstrap: str,
) -> None:
    """A broker that accepts and never answers fails start-up after the timeout, not never."""
    error = await _start_and_close(silent_bootstrap)
    assert f"no answer within {TIMEOUT:g} s" in str(error)


async def test_a_record_over_the_producers_limit_is_schema_too_large(
    bootstrap_servers: str,
) -> None:
    """A write Kafka refuses for its size is 42209, as Confluent answers, not a store error."""
    log = SchemaLog(bootstrap_servers, unique("_schemas-size"), 10.0, ignore)
    try:
        await log.start()
        await log.sync()
        with pytest.raises(SchemaTooLarge) as raised:
            await log.write(Record(b'{"keytype":"NOOP","magic":0}', b"x" * (2 * 1024 * 1024)))
        assert (raised.value.status, raised.value.code) == (422, 42209)
    finally:
        await log.close()
