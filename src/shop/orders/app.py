"""The orders API (order details, order ids of a topic), on its own port."""

from __future__ import annotations

from aiohttp import web

from shop.health import HEALTH, HealthProbes
from shop.middleware import served
from shop.observability.metrics import METRICS, Metrics
from shop.orders.keys import STORE, TOPIC_READER
from shop.orders.routes import setup_routes
from shop.routing import ROUTER, Router
from shop.store import OrderStore
from shop.topic_scan import TopicReader


def create_app(
    store: OrderStore,
    router: Router,
    topics: TopicReader,
    health: HealthProbes,
    metrics: Metrics,
) -> web.Application:
    app = web.Application(middlewares=[served("orders", metrics)])
    app[METRICS] = metrics
    app[STORE] = store
    app[ROUTER] = router
    app[TOPIC_READER] = topics
    app[HEALTH] = health
    setup_routes(app)
    return app
