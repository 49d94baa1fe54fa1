"""The cart API (create and update orders), on its own port."""

from __future__ import annotations

from aiohttp import web

from shop.cart.routes import setup_routes
from shop.cart.writer import OrderWriter
from shop.middleware import error_middleware
from shop.typedefs import WRITER, Shared, install


def create_app(shared: Shared) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    install(app, shared)
    settings = shared.settings
    app[WRITER] = OrderWriter(
        shared.store,
        shared.publisher,
        shared.codec,
        settings.topic,
        shared.view,
        settings.request_timeout_s,
    )
    setup_routes(app)
    return app
