"""The orders API (order details, order ids of a topic), on its own port."""

from __future__ import annotations

from aiohttp import web

from shop.middleware import error_middleware
from shop.orders.routes import setup_routes
from shop.topic_scan import ScanSlots
from shop.typedefs import SCAN_SLOTS, Shared, install


def create_app(shared: Shared) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    install(app, shared)
    settings = shared.settings
    # A scan holds its slot for at most about the request timeout.
    app[SCAN_SLOTS] = ScanSlots(settings.scan_concurrency, settings.request_timeout_s)
    setup_routes(app)
    return app
