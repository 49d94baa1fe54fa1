"""The orders API (order details, order ids of a topic), on its own port."""

from __future__ import annotations

from aiohttp import web

from shop.middleware import error_middleware
from shop.orders.routes import setup_routes
from shop.typedefs import Shared, install


def create_app(shared: Shared) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    install(app, shared)
    setup_routes(app)
    return app
