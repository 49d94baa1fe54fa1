"""Assembling the registry application: error middleware, routes and the ``_schemas`` store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from shop.registry import records
from shop.registry.database import Database
from shop.registry.keys import REGISTRY
from shop.registry.log import SchemaLog
from shop.registry.middleware import errors_as_json
from shop.registry.registry import Registry
from shop.registry.routes import setup_routes
from shop.registry.work import schema_work

MAX_BODY_BYTES = 16 * 1024 * 1024


def create_app(
    bootstrap_servers: str, topic: str = "_schemas", timeout: float = 10.0
) -> web.Application:
    app = web.Application(middlewares=[errors_as_json], client_max_size=MAX_BODY_BYTES)
    setup_routes(app)
    app.cleanup_ctx.append(registry_ctx(bootstrap_servers, topic, timeout))
    return app


def registry_ctx(
    bootstrap_servers: str, topic: str, timeout: float
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        database = Database()
        log = SchemaLog(
            bootstrap_servers,
            topic,
            timeout,
            lambda key, value: records.apply(database, key, value),
        )
        with schema_work() as work:
            try:
                await log.start()  # the app serves only once the topic is read to its end
                app[REGISTRY] = Registry(database, log, work)
                yield
            finally:
                await log.close()

    return ctx
