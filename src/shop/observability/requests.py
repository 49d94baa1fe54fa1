"""Each request: its id (``X-Request-ID``, honoured or generated, always returned), one log line,
and its metrics, taken by the sub-apps' one middleware (:mod:`shop.middleware`) around everything
else, so they see the status the client gets, errors included.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time

import msgspec
from aiohttp import web

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


class RequestObserver:
    """What a sub-app's middleware (:func:`shop.middleware.served`) does around each request:
    :meth:`start` gives it its id, :meth:`finish` logs its line and counts it."""

    __slots__ = ("_api", "_log", "_metrics")

    def __init__(self, api: str, metrics: Metrics) -> None:
        self._api = api
        self._metrics = metrics
        self._log = logging.getLogger(f"shop.{api}")

    def start(self, request: web.Request) -> Observation:
        """The request's id (the client's, when valid), set for every record logged meanwhile."""
        given = request.headers.get(REQUEST_ID, "")
        rid = given if given and _VALID_ID.fullmatch(given) else random_hex(_ID_DIGITS)
        return Observation(rid, request_id.set(rid), time.perf_counter())

    def finish(self, request: web.Request, observation: Observation, status: int) -> None:
        """Count the request, log its line, and unset its id."""
        seconds = time.perf_counter() - observation.started
        self._metrics.request_answered(self._api, request.method, _route(request), status, seconds)
        level = logging.DEBUG if request.path in _WATCHERS else logging.INFO
        if self._log.isEnabledFor(level):
            path = echo(request.path_qs, 200)
            rid = observation.request_id
            self._log.log(
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
        request_id.reset(observation.token)


class Observation(msgspec.Struct, frozen=True, gc=False):
    """One request being answered: its id, the token that unsets it, and when it began."""

    request_id: str
    token: contextvars.Token[str | None]
    started: float
