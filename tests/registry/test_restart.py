"""A restarted registry reads _schemas to its end and serves everything it had."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from shop.registry.app import create_app
from tests.registry.conftest import Api, body, record
from tests.waiting import unique


@contextlib.asynccontextmanager
async def registry_on(bootstrap_servers: str, topic: str) -> AsyncIterator[Api]:
    """A registry in this process on port 0, storing in ``topic``, with a client for it."""
    runner = web.AppRunner(create_app(bootstrap_servers, topic))
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
        _, created = await api.call("POST", f"/subjects/{subject}/versions", body(record("T", ("t", "int"))))
        await api.call("DELETE", f"/subjects/{subject}")
        await api.call("DELETE", f"/subjects/{subject}?permanent=true")

    async with registry_on(bootstrap_servers, topic) as api:
        assert await api.call("GET", "/subjects?deleted=true") == (200, [])
        status, error = await api.call("GET", f"/schemas/ids/{created['id']}")
        assert (status, error["error_code"]) == (404, 40403)
        _, again = await api.call("POST", f"/subjects/{subject}/versions", body(record("T", ("t", "int"))))
        assert again == created
        assert await api.call("GET", f"/subjects/{subject}/versions") == (200, [2])
        _, other = await api.call("POST", f"/subjects/{subject}/versions", body(record("T", ("t", "int"), ("u", "int"), default=0)))
        assert other["id"] == created["id"] + 1
