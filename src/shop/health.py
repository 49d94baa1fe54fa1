"""``GET /health`` on both ports: real requests to the broker and the registry, now."""

from __future__ import annotations

import asyncio

from aiohttp import web

from shop.render import json_response
from shop.typedefs import get_admin, get_codec, get_settings, get_view

HEALTH_TIMEOUT_S = 2.0


async def health(request: web.Request) -> web.Response:
    timeout = min(HEALTH_TIMEOUT_S, get_settings(request.app).request_timeout_s)
    kafka, registry = await asyncio.gather(
        get_admin(request.app).reachable(timeout),
        get_codec(request.app).registry_reachable(timeout),
    )
    view = get_view(request.app)
    healthy = kafka and registry and not view.failed
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "kafka": "connected" if kafka else "disconnected",
        "schemaRegistry": "connected" if registry else "disconnected",
        "orderView": view.report(),
    }
    return json_response(body, status=200 if healthy else 503)
