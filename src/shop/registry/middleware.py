"""The one error path and the one answer type: every failure becomes Confluent's
``{"error_code", "message"}`` JSON, and every answer is sent as the type the client accepts."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from shop.registry.errors import RegistryError
from shop.registry.negotiation import V1_JSON, response_type

log = logging.getLogger(__name__)


def json_answer(data: Any, status: int = 200) -> web.Response:
    """``data`` as compact JSON; no charset, like Confluent (JSON is UTF-8 by definition)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(body=body, status=status, content_type=V1_JSON)


def error_response(status: int, code: int, message: str) -> web.Response:
    return json_answer({"error_code": code, "message": message}, status)


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    media_type = response_type(request.headers.get("Accept"))
    if media_type is None:
        return error_response(406, 406, "HTTP 406 Not Acceptable")
    response = await _answer(request, handler)
    if isinstance(response, web.Response):
        response.content_type = media_type
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
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
