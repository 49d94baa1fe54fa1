"""The one middleware of each sub-app: every request observed (its id, log line and metrics:
:mod:`shop.observability.requests`), and the one error path, which turns every failure into the
same JSON error shape.

``{"error": "<code>", "message": "<what to do>"}`` (+ ``"fields"`` for invalid bodies).

One middleware, not one for each: aiohttp runs each as a coroutine of its own around the handler,
and every write's handler suspends and resumes through all of them (each layer costs about 1 µs
a request, measured).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from shop.errors import ShopError, echo
from shop.observability.metrics import Metrics
from shop.observability.requests import CLIENT_CLOSED, REQUEST_ID, RequestObserver
from shop.render import json_response

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
}
# What a client that hangs up mid-request makes aiohttp raise in the handler: the body read fails
# (ConnectionResetError, aiohttp's ClientConnectionResetError among them) or a write is refused.
_DISCONNECTS = (ConnectionResetError, BrokenPipeError)


def error_response(
    status: int, code: str, message: str, fields: Mapping[str, str] | None = None
) -> web.Response:
    body: dict[str, object] = {"error": code, "message": message}
    if fields:
        body["fields"] = dict(fields)
    return json_response(body, status=status)


def _http_message(request: web.Request, exc: web.HTTPException) -> str:
    path = echo(request.path)
    if isinstance(exc, web.HTTPNotFound):
        return f"there is no {path} here; check the path and the port"
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return f"{echo(request.method)} is not allowed on {path}; use {allowed}"
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return f"the request body is too large; at most {request.client_max_size} bytes"
    return exc.reason


def served(api: str, metrics: Metrics) -> Middleware:
    """The middleware of the sub-app that serves ``api`` (its log lines and metric labels)."""
    observer = RequestObserver(api, metrics)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        observation = observer.start(request)
        status = CLIENT_CLOSED
        try:
            try:
                response = await handler(request)
            except Exception as exc:
                response = error_response_for(request, exc)
            status = response.status
            response.headers[REQUEST_ID] = observation.request_id
            return response
        finally:
            observer.finish(request, observation, status)

    return middleware


def error_response_for(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The JSON error answering the failure ``exc`` of ``request``; an HTTP exception below 400
    (a redirect) is raised again, for aiohttp to answer."""
    if isinstance(exc, ShopError):
        response = error_response(exc.status, exc.code, exc.message, exc.fields)
        response.headers.update(exc.headers)
        return response
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            raise exc
        code = _HTTP_CODES.get(exc.status, "http_error")
        response = error_response(exc.status, code, _http_message(request, exc))
        # HTTP requires Allow on a 405; aiohttp puts it on the exception we replace.
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    if isinstance(exc, _DISCONNECTS) and _client_gone(request):
        # Routine and nothing to act on; at INFO a flood of them would flood the log.
        log.debug("the client went away during %s %s: %r", request.method, echo(request.path), exc)
        # Nobody reads this answer; returning one (not raising) keeps aiohttp from logging.
        return error_response(400, "client_disconnected", "the client closed the connection")
    log.exception("unexpected error answering %s %s", request.method, echo(request.path))
    return error_response(
        500, "internal_error", "something unexpected went wrong; it was logged, try again"
    )


def _client_gone(request: web.Request) -> bool:
    """Whether the client's connection is closed, so a connection error was the client's doing."""
    return request.transport is None or request.transport.is_closing()
