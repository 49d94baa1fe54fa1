"""Each port's OpenAPI 3.1 document at ``/openapi.json`` and a ``/docs`` page that renders it.

The page is Swagger UI 5, served from the files of the installed ``swagger_ui`` package
(swagger-ui-py), never from a CDN: hosts behind a firewall have no internet. Both sub-apps use
this module, so it imports neither; it holds what their documents share (the error body, the order,
the operations every port has, the ``X-Request-ID`` header) and :func:`document` completes a port's
own operations with them.
"""

from __future__ import annotations

import copy
import html
import importlib.metadata
import importlib.resources
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from shop.errors import StartupError
from shop.order import (
    CURRENCY,
    MAX_ITEMS,
    MAX_QUANTITY,
    MIN_ITEMS,
    ORDER_ID_PATTERN,
    ORDER_ID_RULE,
    OrderStatus,
)

OPENAPI_VERSION = "3.1.0"
API_VERSION = importlib.metadata.version("shop")
OPERATIONS_TAG = "operations"
# The few Swagger UI files the page loads: no directory of the package is served.
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"

Schema = dict[str, Any]


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def schema_ref(name: str) -> dict[str, str]:
    return ref("schemas", name)


def json_body(schema: Schema, description: str) -> dict[str, Any]:
    """A response of JSON matching ``schema``."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error(
    description: str, *codes: str, headers: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """An error response: the shared error body whose ``error`` is one of ``codes``."""
    schema = {"allOf": [schema_ref("Error"), {"properties": {"error": {"enum": list(codes)}}}]}
    response = json_body(schema, description)
    if headers:
        response["headers"] = dict(headers)
    return response


def order_id(description: str) -> Schema:
    return {
        "type": "string",
        "pattern": f"^{ORDER_ID_PATTERN.pattern}$",
        "minLength": 1,
        "maxLength": 64,
        "description": f"{description}; {ORDER_ID_RULE}",
        "examples": ["ORDER-123"],
    }


def _money(description: str, minimum: dict[str, int]) -> Schema:
    return {
        "type": "number",
        **minimum,
        "description": f"{description}, in {CURRENCY}, written exactly with two decimals",
        "examples": [149.90],
    }


ORDER_PROPERTIES: dict[str, Schema] = {
    "orderId": order_id("the order's id, chosen by the client that created it"),
    "customerId": order_id(
        "the customer's id (the cart generates CUST- and six letters or digits)"
    ),
    "orderDate": {
        "type": "string",
        "format": "date-time",
        "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
        "description": "when the order was created: ISO-8601 UTC with milliseconds",
        "examples": ["2026-11-24T22:00:00.123Z"],
    },
    "items": {
        "type": "array",
        "minItems": MIN_ITEMS,
        "maxItems": MAX_ITEMS,
        "items": schema_ref("OrderItem"),
    },
    "totalAmount": _money(
        "the sum of the items' quantity times unit price", {"exclusiveMinimum": 0}
    ),
    "currency": {"const": CURRENCY},
    "status": schema_ref("OrderStatus"),
}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "description": "Every error of both ports: a code to branch on and a sentence to act on.",
        "required": ["error", "message"],
        "additionalProperties": False,
        "properties": {
            "error": {"type": "string", "description": "a short code, e.g. invalid_request"},
            "message": {"type": "string", "description": "what went wrong and what to do"},
            "fields": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {"type": "string"},
                "description": "the invalid fields or parameters, each with its problem",
            },
        },
    },
    "OrderStatus": {"type": "string", "enum": [status.value for status in OrderStatus]},
    "OrderItem": {
        "type": "object",
        "required": ["itemId", "name", "quantity", "unitPrice"],
        "additionalProperties": False,
        "properties": {
            "itemId": {"type": "string", "examples": ["ITEM-001-K3ZQ"]},
            "name": {"type": "string", "examples": ["Wireless Mouse"]},
            "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
            "unitPrice": _money("the price of one", {"exclusiveMinimum": 0}),
        },
    },
    "Order": {
        "type": "object",
        "required": list(ORDER_PROPERTIES),
        "additionalProperties": False,
        "properties": ORDER_PROPERTIES,
    },
    "Health": {
        "type": "object",
        "required": ["status", "kafka", "producer", "schemaRegistry", "orderView", "partitions"],
        "additionalProperties": False,
        "properties": {
            "status": {
                "enum": ["healthy", "degraded", "unhealthy"],
                "description": "degraded: serving, but the registry is away or the broker lost "
                "records it had acknowledged (orderView.logLoss)",
            },
            "kafka": {"enum": ["connected", "disconnected"]},
            "producer": {
                "enum": ["ready", "recovering"],
                "description": "recovering: being replaced after a broker failure; writes are 503",
            },
            "schemaRegistry": {"enum": ["connected", "disconnected"]},
            "orderView": schema_ref("OrderView"),
            "partitions": schema_ref("Partitions"),
        },
    },
    "Instance": {
        "type": "object",
        "required": ["cart", "orders"],
        "additionalProperties": False,
        "properties": {"cart": {"type": "string"}, "orders": {"type": "string"}},
        "description": "where the other instances reach an instance's two APIs",
    },
    "Partitions": {
        "type": "object",
        "description": "which instance of the consumer group owns which partition of the topic",
        "required": ["stable", "generation", "instance", "owned", "table", "caughtUp"],
        "additionalProperties": False,
        "properties": {
            "stable": {
                "type": "boolean",
                "description": "false during a rebalance: orders answer 503 rebalancing",
            },
            "generation": {"type": "integer", "minimum": 0},
            "instance": schema_ref("Instance"),
            "owned": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "table": {
                "type": "object",
                "description": "partition -> the instance that owns it",
                "additionalProperties": schema_ref("Instance"),
            },
            "caughtUp": {
                "type": "object",
                "description": "owned partition -> whether this instance has replayed it",
                "additionalProperties": {"type": "boolean"},
            },
        },
    },
    "OrderView": {
        "type": "object",
        "required": [
            "following",
            "caughtUp",
            "orders",
            "deadLettered",
            "refused",
            "versionConflicts",
            "logLoss",
        ],
        "additionalProperties": False,
        "properties": {
            "following": {"type": "boolean", "description": "false when its consumer stopped"},
            "caughtUp": {"type": "boolean", "description": "whether it holds the whole topic"},
            "orders": {"type": "integer", "minimum": 0},
            "deadLettered": {"type": "integer", "minimum": 0},
            "refused": {"type": "integer", "minimum": 0},
            "versionConflicts": {"type": "integer", "minimum": 0},
            "logLoss": {"oneOf": [{"type": "null"}, schema_ref("LogLoss")]},
        },
    },
    "LogLoss": {
        "type": "object",
        "description": "What the broker lost of records it had acknowledged, since the start.",
        "required": ["detected", "recordsLost", "ordersLost", "ordersRolledBack", "last", "lastAt"],
        "additionalProperties": False,
        "properties": {
            "detected": {"type": "integer", "minimum": 1},
            "recordsLost": {"type": "integer", "minimum": 0},
            "ordersLost": {"type": "integer", "minimum": 0},
            "ordersRolledBack": {"type": "integer", "minimum": 0},
            "last": {"type": "string", "description": "what the last loss was"},
            "lastAt": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "Readiness": {
        "type": "object",
        "required": ["status", "checks"],
        "additionalProperties": False,
        "properties": {
            "status": {"enum": ["ready", "not_ready"]},
            "checks": {
                "type": "object",
                "required": ["kafka", "producer", "orderView"],
                "additionalProperties": False,
                "properties": {
                    "kafka": {"type": "boolean", "description": "the broker answers"},
                    "producer": {"type": "boolean", "description": "the producer can write"},
                    "orderView": {
                        "type": "boolean",
                        "description": "the view holds the whole topic and follows it",
                    },
                },
            },
        },
    },
}

# The ids the request middleware keeps (observability/requests.py); it replaces any other.
REQUEST_ID_PATTERN = "^[A-Za-z0-9._:-]{1,128}$"

PARAMETERS = {
    "ForwardedBy": {
        "name": "X-Shop-Forwarded-By",
        "in": "header",
        "required": False,
        "description": "Set by an instance that forwards a request to the owner of its order's "
        "partition (its own cart URL); clients do not send it. A forwarded request that does "
        "not reach the owner is a 503 rebalancing, never forwarded again.",
        "schema": {"type": "string"},
    },
    "RequestId": {
        "name": "X-Request-ID",
        "in": "header",
        "required": False,
        "description": "An id for this request (a UUID, a trace id): 1 to 128 letters, digits, "
        "'.', '_', ':' or '-'. Such an id is used and returned; any other value is replaced by "
        "one the service generates, never refused.",
        "schema": {"type": "string", "examples": ["3f2b9c4e-7d1a-4c55-9a0e-2b6f1d8e4a10"]},
    },
}

HEADERS = {
    "RequestId": {
        "description": "The request's id: the client's own when it sent a valid one, else one "
        "the service generated (32 hex digits). The service's log line of the request has it.",
        "required": True,
        "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
    }
}


def retry_after(required: bool) -> dict[str, Any]:
    return {
        "required": required,
        "description": "seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    }


# What the routing of an order's request (routing.py) adds to every operation it routes.
FORWARDED_BY = ref("parameters", "ForwardedBy")
ROUTED_UNAVAILABLE = (
    "rebalancing: the order's partition is moving between instances or its owner is still "
    "replaying it, or a write was not confirmed by the owner's view; unavailable: the owner does "
    "not answer. Retry after Retry-After seconds."
)

INTERNAL_ERROR = error(
    "A bug: the service logged it and answers without internals; try again.", "internal_error"
)


def _health_answer(description: str, *statuses: str) -> dict[str, Any]:
    schema = {"allOf": [schema_ref("Health"), {"properties": {"status": {"enum": list(statuses)}}}]}
    return json_body(schema, description)


def _readiness_answer(description: str, status: str, checks: Schema) -> dict[str, Any]:
    narrowed = {"properties": {"status": {"const": status}, "checks": checks}}
    return json_body({"allOf": [schema_ref("Readiness"), narrowed]}, description)


ALL_PASSED = {"properties": {name: {"const": True} for name in ("kafka", "producer", "orderView")}}
SOME_FAILED = {"not": ALL_PASSED}

# Every port answers these: how the service is, for people and for orchestrators.
OPERATIONS_PATHS: dict[str, Any] = {
    "/health": {
        "get": {
            "operationId": "health",
            "tags": [OPERATIONS_TAG],
            "summary": "Whether the service can do its job, and how each dependency is",
            "description": "The broker and registry probes are real requests, shared by both "
            "ports and by every call within about a second.",
            "responses": {
                "200": _health_answer(
                    "Serving: degraded while the registry is away, or once the broker lost "
                    "records it had acknowledged.",
                    "healthy",
                    "degraded",
                ),
                "503": _health_answer(
                    "Cannot serve: the broker does not answer, the producer "
                    "cannot write or the view's consumer stopped.",
                    "unhealthy",
                ),
            },
        }
    },
    "/livez": {
        "get": {
            "operationId": "livez",
            "tags": [OPERATIONS_TAG],
            "summary": "Liveness: the process answers HTTP",
            "responses": {
                "200": json_body(
                    {
                        "type": "object",
                        "required": ["status"],
                        "additionalProperties": False,
                        "properties": {"status": {"const": "live"}},
                    },
                    "The process is alive.",
                )
            },
        }
    },
    "/readyz": {
        "get": {
            "operationId": "readyz",
            "tags": [OPERATIONS_TAG],
            "summary": "Readiness: the broker answers, the producer can write, the view is whole",
            "responses": {
                "200": _readiness_answer("Ready to serve.", "ready", ALL_PASSED),
                "503": _readiness_answer(
                    "Not ready; checks says what fails.", "not_ready", SOME_FAILED
                ),
            },
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "tags": [OPERATIONS_TAG],
            "summary": "Prometheus metrics of this process",
            "responses": {
                "200": {
                    "description": "The Prometheus text exposition format, version 0.0.4.",
                    "content": {METRICS_CONTENT_TYPE: {"schema": {"type": "string"}}},
                }
            },
        }
    },
}


def document(
    *,
    title: str,
    description: str,
    tag: Mapping[str, str],
    paths: Mapping[str, Any],
    schemas: Mapping[str, Schema] | None = None,
) -> dict[str, Any]:
    """The OpenAPI document of one port: its own ``paths`` and the operations every port has.

    Each operation gets what the shared middleware gives every answer: the error middleware's 500
    and the ``X-Request-ID`` request parameter and response header.
    """
    all_paths = copy.deepcopy({**paths, **OPERATIONS_PATHS})
    for path_item in all_paths.values():
        for operation in path_item.values():
            operation.setdefault("parameters", []).append(ref("parameters", "RequestId"))
            operation["responses"].setdefault("500", copy.deepcopy(INTERNAL_ERROR))
            operation["responses"] = dict(sorted(operation["responses"].items()))
            for response in operation["responses"].values():
                response.setdefault("headers", {})["X-Request-ID"] = ref("headers", "RequestId")
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": API_VERSION, "description": description},
        "tags": [
            dict(tag),
            {"name": OPERATIONS_TAG, "description": "Health, liveness, readiness and metrics"},
        ],
        "paths": all_paths,
        "components": {
            "schemas": {**SCHEMAS, **(schemas or {})},
            "parameters": copy.deepcopy(PARAMETERS),
            "headers": copy.deepcopy(HEADERS),
        },
    }


def operations(document: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """Every ``(METHOD, path)`` that ``document`` describes."""
    for path, path_item in document["paths"].items():
        for method in path_item:
            yield method.upper(), path


def setup_docs(app: web.Application, document: Mapping[str, Any]) -> None:
    """Serve ``document`` at ``/openapi.json`` and a Swagger UI page of it at ``/docs``."""
    body = (json.dumps(document, indent=2) + "\n").encode()
    page = _page(document["info"]["title"]).encode()

    async def openapi_json(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json", charset="utf-8")

    async def docs(request: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html", charset="utf-8")

    app.router.add_get("/openapi.json", openapi_json)
    app.router.add_get("/docs", docs)
    for name, path in _assets().items():
        app.router.add_get(f"/docs/{name}", _file(path))


def _file(path: Path) -> Handler:
    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path)

    return serve


def _assets() -> dict[str, Path]:
    """The paths of :data:`ASSETS` in the installed package; start-up fails when one is missing."""
    static = importlib.resources.files("swagger_ui") / "static"
    found = {name: Path(str(static / name)) for name in ASSETS}
    missing = [name for name, path in found.items() if not path.is_file()]
    if missing:
        raise StartupError(
            f"Swagger UI's {', '.join(missing)} is missing from the installed swagger_ui package "
            "(swagger-ui-py); reinstall it"
        )
    return found


# Relative URLs: the page works behind a proxy that serves the port under a path prefix.
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null
}});
</script>
</body>
</html>
"""


def _page(title: str) -> str:
    return _PAGE.format(title=html.escape(title))
