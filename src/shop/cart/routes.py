"""Every URL of the cart API."""

from __future__ import annotations

from aiohttp import web

from shop import health
from shop.api_docs import setup_docs
from shop.cart import openapi, views
from shop.observability.metrics import metrics


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/create-order", views.create_order)
    app.router.add_put("/update-order", views.update_order)
    app.router.add_get("/health", health.health)
    app.router.add_get("/livez", health.livez)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", metrics)
    setup_docs(app, openapi.DOCUMENT)
