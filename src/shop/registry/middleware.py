"""The one error path: every failure becomes Confluent's ``{"error_code", "message"}`` JSON."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from shop.registry.errors import RegistryError
from shop.registry.params import CONTENT_TYPE

log = logging.getLogger(__name__)


def error_response(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {"error_code": code, "message": message}, status=status, content_type=CONTENT_TYPE
    )


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RegistryError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # aiohttp's own answers: unknown URL, wrong method, body over client_max_size
        return error_response(exc.status, exc.status, f"HTTP {exc.status} {exc.reason}")
    except Exception:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return error_response(500, 500, "Internal Server Error")
