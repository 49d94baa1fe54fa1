"""The cart API (create and update orders), on its own port."""

from __future__ import annotations

from aiohttp import web

from shop.cart.keys import WRITER
from shop.cart.routes import setup_routes
from shop.cart.writer import OrderWriter
from shop.health import HEALTH, HealthProbes
from shop.middleware import served
from shop.observability.metrics import METRICS, Metrics
from shop.routing import ROUTER, Router


def create_app(
    writer: OrderWriter, router: Router, health: HealthProbes, metrics: Metrics
) -> web.Application:
    app = web.Application(middlewares=[served("cart", metrics)])
    app[METRICS] = metrics
    app[WRITER] = writer
    app[ROUTER] = router
    app[HEALTH] = health
    setup_routes(app)
    return app
