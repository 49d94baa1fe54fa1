"""A restarted registry reads _schemas to its end and serves everything it had."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from shop.registry.app import create_app
from tests.registry.conftest import Api, body, record
from tests.waiting import unique


@contextlib.asynccontextmanager
async def registry_on(
    bootstrap_servers: str, topic: str, timeout: float = 10.0
) -> AsyncIterator[Api]:
    """A registry in this process on port 0, storing in ``topic``, with a client for it."""
    runner = web.AppRunner(create_app(bootstrap_servers, topic, timeout))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        async with aiohttp.ClientSession() as session:
            yield Api(session, f"http://{host}:{port}")
    finally:
        await runner.cleanup()


async def test_restart_keeps_schemas_ids_configs_and_deletes(bootstrap_servers: str) -> None:
    """Schemas, ids, versions, configs and soft deletes survive a restart; ids keep counting."""
    topic, subject, gone = unique("_schemas-restart"), unique("keep-value"), unique("gone-value")
    v1, v2 = record("K", ("x", "int")), record("K", ("x", "int"), ("y", "int"), default=0)
    async with registry_on(bootstrap_servers, topic) as api:
        _, first = await api.call("POST", f"/subjects/{subject}/versions", body(v1))
        _, second = await api.call("POST", f"/subjects/{subject}/versions", body(v2))
        await api.call("POST", f"/subjects/{gone}/versions", body(record("G", ("g", "int"))))
        await api.call("DELETE", f"/subjects/{gone}")
        await api.call("PUT", f"/config/{subject}", {"compatibility": "FULL"})
        await api.call("PUT", "/config", {"compatibility": "FORWARD"})
        _, before = await api.call("GET", f"/subjects/{subject}/versions/latest")

    async with registry_on(bootstrap_servers, topic) as api:
        assert await api.call("GET", f"/subjects/{subject}/versions/latest") == (200, before)
        assert await api.call("GET", f"/subjects/{subject}/versions") == (200, [1, 2])
        assert (await api.call("GET", f"/schemas/ids/{first['id']}"))[0] == 200
        assert await api.call("GET", "/subjects") == (200, [subject])
        assert await api.call("GET", "/subjects?deleted=true") == (200, sorted([subject, gone]))
        assert await api.call("GET", f"/config/{subject}") == (200, {"compatibilityLevel": "FULL"})
        assert await api.call("GET", "/config") == (200, {"compatibilityLevel": "FORWARD"})
        _, third = await api.call(
            "POST", f"/subjects/{unique('new-value')}/versions", body(record("N", ("n", "int")))
        )
        assert third["id"] > max(first["id"], second["id"]) + 1  # the deleted subject's id too


async def test_restart_after_permanent_delete(bootstrap_servers: str) -> None:
    """A permanently deleted subject stays gone; its schema keeps its id, new ones count on."""
    topic, subject = unique("_schemas-tomb"), unique("tomb-value")
    async with registry_on(bootstrap_servers, topic) as api:
        _, created = await api.call(
            "POST", f"/subjects/{subject}/versions", body(record("T", ("t", "int")))
        )
        await api.call("DELETE", f"/subjects/{subject}")
        await api.call("DELETE", f"/subjects/{subject}?permanent=true")

    async with registry_on(bootstrap_servers, topic) as api:
        assert await api.call("GET", "/subjects?deleted=true") == (200, [])
        status, error = await api.call("GET", f"/schemas/ids/{created['id']}")
        assert (status, error["error_code"]) == (404, 40403)
        _, again = await api.call(
            "POST", f"/subjects/{subject}/versions", body(record("T", ("t", "int")))
        )
        assert (again["id"], again["guid"], again["version"]) == (created["id"], created["guid"], 2)
        assert await api.call("GET", f"/subjects/{subject}/versions") == (200, [2])
        _, other = await api.call(
            "POST",
            f"/subjects/{subject}/versions",
            body(record("T", ("t", "int"), ("u", "int"), default=0)),
        )
        assert other["id"] == created["id"] + 1


async def test_restart_while_writes_happen(bootstrap_servers: str) -> None:
    """Registrations cut off by a shutdown leave gapless versions; every answered id survives."""
    topic, subject = unique("_schemas-midwrite"), unique("mid-value")
    schemas = [record(f"Mid{n}", ("x", "int")) for n in range(30)]
    # in-flight handlers are cancelled at once instead of drained
    runner = web.AppRunner(create_app(bootstrap_servers, topic), shutdown_timeout=0.01)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    async with aiohttp.ClientSession() as session:
        api = Api(session, f"http://{host}:{port}")
        await api.call("PUT", f"/config/{subject}", {"compatibility": "NONE"})
        writes = [
            asyncio.ensure_future(api.call("POST", f"/subjects/{subject}/versions", body(schema)))
            for schema in schemas
        ]
        await asyncio.wait(writes, return_when=asyncio.FIRST_COMPLETED)
        await runner.cleanup()
        outcomes = await asyncio.gather(*writes, return_exceptions=True)
    answered = {
        schemas[n]["name"]: outcome[1]["id"]
        for n, outcome in enumerate(outcomes)
        if isinstance(outcome, tuple) and outcome[0] == 200
    }
    assert answered

    async with registry_on(bootstrap_servers, topic) as api:
        _, versions = await api.call("GET", f"/subjects/{subject}/versions")
        assert versions == list(range(1, len(versions) + 1))
        stored = {}
        for version in versions:
            _, entry = await api.call("GET", f"/subjects/{subject}/versions/{version}")
            stored[json.loads(entry["schema"])["name"]] = entry["id"]
        assert len(set(stored.values())) == len(stored)
        assert answered.items() <= stored.items()
