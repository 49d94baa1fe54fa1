"""``GET /health`` on both ports: whether the service can do its job, and how each dependency is.

503 ``unhealthy`` when it cannot serve: the broker does not answer, the producer cannot write (it
is being replaced after a broker failure), or the view's consumer stopped on an error. A Schema
Registry that does not answer alone is 200 ``degraded``: writes use the schema id registered at
start-up and the view decodes every schema id it has seen, so only a record of a schema new to the
view waits for the registry. A broker that lost records it had acknowledged is ``degraded`` too,
from then on (``orderView.logLoss`` says what went). The broker and registry probes are real requests, shared by both
ports and by every call within about a second (:class:`shop.probe.SharedProbe`).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from shop.render import json_response
from shop.typedefs import get_admin, get_codec, get_publisher, get_settings, get_view

HEALTH_TIMEOUT_S = 2.0


async def health(request: web.Request) -> web.Response:
    app = request.app
    timeout = min(HEALTH_TIMEOUT_S, get_settings(app).request_timeout_s)
    kafka, registry = await asyncio.gather(
        get_admin(app).reachable(timeout), get_codec(app).registry_reachable(timeout)
    )
    writable = get_publisher(app).writable
    view = get_view(app)
    serving = kafka and writable and not view.failed
    # The broker lost records it had acknowledged: the service serves what the log holds, and a
    # person should know (orderView.logLoss says what went).
    lost = view.loss.detected > 0
    body = {
        "status": ("healthy" if registry and not lost else "degraded") if serving else "unhealthy",
        "kafka": "connected" if kafka else "disconnected",
        "producer": "ready" if writable else "recovering",
        "schemaRegistry": "connected" if registry else "disconnected",
        "orderView": view.report(),
    }
    return json_response(body, status=200 if serving else 503)
