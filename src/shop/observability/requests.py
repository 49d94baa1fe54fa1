"""Each request: its id (``X-Request-ID``, honoured or generated, always returned), one log line,
and its metrics. The outermost middleware, so it sees the status the client gets, errors included.
"""

from __future__ import annotations

import logging
import re
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from shop.errors import echo
from shop.ids import random_hex
from shop.observability.logs import fields_wanted, request_id
from shop.observability.metrics import Metrics

REQUEST_ID = "X-Request-ID"
# What a proxy or client may hand us: UUIDs, trace ids, short tokens. Anything else is replaced,
# so a hostile header cannot forge log lines or grow them.
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Asked every few seconds by load balancers and Prometheus: logged at DEBUG, not INFO.
_WATCHERS = frozenset({"/livez", "/readyz", "/metrics"})
# A generated id is 32 random hex digits, as a UUID's (shop.ids: no system call per request), not
# a counter that would tell a client how many requests the service answers.
_ID_DIGITS = 32
# The status logged and counted for a request whose client went away before the answer (nginx's).
CLIENT_CLOSED = 499


def _route(request: web.Request) -> str:
    """The route's pattern, never the raw path: a label must not take a value per request."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def observed(api: str, metrics: Metrics) -> Middleware:
    log = logging.getLogger(f"shop.{api}")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get(REQUEST_ID, "")
        rid = given if given and _VALID_ID.fullmatch(given) else random_hex(_ID_DIGITS)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = CLIENT_CLOSED
        try:
            response = await handler(request)
            status = response.status
            response.headers[REQUEST_ID] = rid
            return response
        finally:
            seconds = time.perf_counter() - started
            metrics.request_answered(api, request.method, _route(request), status, seconds)
            level = logging.DEBUG if request.path in _WATCHERS else logging.INFO
            if log.isEnabledFor(level):
                path = echo(request.path_qs, 200)
                log.log(
                    level,
                    "%s %s %d %.1f ms id=%s",
                    echo(request.method),
                    path,
                    status,
                    seconds * 1000,
                    rid,
                    extra={
                        "method": request.method,
                        "path": path,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                        "request_id": rid,
                    }
                    if fields_wanted()
                    else None,
                )
            request_id.reset(token)

    return middleware
