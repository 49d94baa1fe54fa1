"""Every URL of the orders API."""

from __future__ import annotations

from aiohttp import web

from shop import health
from shop.api_docs import setup_docs
from shop.observability.metrics import metrics
from shop.orders import openapi, views


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/order-details", views.order_details)
    app.router.add_get("/getAllOrderIdsFromTopic", views.order_ids_from_topic)
    app.router.add_get("/health", health.health)
    app.router.add_get("/livez", health.livez)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", metrics)
    setup_docs(app, openapi.DOCUMENT)
