"""Each port's OpenAPI document: valid OpenAPI 3.1, true to the port's routes, served at
/openapi.json, and a /docs page that needs nothing but the port itself."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import jsonschema
import pytest
from aiohttp import web
from schemathesis.specs.openapi.definitions import OPENAPI_31

from shop.api_docs import ASSETS, operations
from shop.cart.app import create_app as create_cart_app
from shop.cart.openapi import DOCUMENT as CART_DOCUMENT
from shop.main import RunningService
from shop.orders.app import create_app as create_orders_app
from shop.orders.openapi import DOCUMENT as ORDERS_DOCUMENT

PORTS = ["cart", "orders"]
DOCUMENTS = {"cart": CART_DOCUMENT, "orders": ORDERS_DOCUMENT}
CREATE_APPS: dict[str, Callable[..., web.Application]] = {
    "cart": create_cart_app,
    "orders": create_orders_app,
}
# The document and its page are not operations of the API.
DOCS_PATHS = ("/openapi.json", "/docs")
# 5xx answers that are not errors of the request: the service says what of it fails.
PROBE_ANSWERS = {("/health", "503"), ("/readyz", "503")}


def base_url(service: RunningService, port: str) -> str:
    return service.cart_url if port == "cart" else service.orders_url


def schemas_in(node: Any) -> Iterator[Any]:
    """Every JSON Schema of an OpenAPI document: components, parameters, bodies and headers."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema":
                yield value
            elif key == "schemas" and isinstance(value, dict):
                yield from value.values()
            else:
                yield from schemas_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from schemas_in(value)


def refs_in(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def resolve(document: dict[str, Any], pointer: str) -> Any:
    assert pointer.startswith("#/"), pointer
    node: Any = document
    for part in pointer[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def routes_of(port: str) -> set[tuple[str, str]]:
    """``(METHOD, path)`` of every route the port's app has, as ``create_app`` builds it (with
    stand-ins for its components, which building the routes does not use); HEAD is implied by GET,
    as aiohttp adds it beside every GET."""
    create_app = CREATE_APPS[port]
    app = create_app(*(object() for _ in inspect.signature(create_app).parameters))
    routes = {(route.method, route.resource.canonical) for route in app.router.routes()}
    return {
        (method, path)
        for method, path in routes
        if not (method == "HEAD" and ("GET", path) in routes)
        and path not in DOCS_PATHS
        and not path.startswith("/docs/")
    }


@pytest.mark.parametrize("port", PORTS)
def test_each_document_is_valid_openapi_3_1(port: str) -> None:
    """The document validates against the OpenAPI 3.1 meta-schema, each schema in it is a valid
    JSON Schema 2020-12, and every $ref points inside it."""
    document = DOCUMENTS[port]
    assert document["openapi"].startswith("3.1.")
    jsonschema.Draft202012Validator(OPENAPI_31).validate(document)
    for schema in schemas_in(document):
        jsonschema.Draft202012Validator.check_schema(schema)
    for pointer in refs_in(document):
        resolve(document, pointer)
    assert json.loads(json.dumps(document)) == document  # plain JSON, nothing Python-only


@pytest.mark.parametrize("port", PORTS)
def test_the_document_has_every_route_of_its_port_and_no_other(port: str) -> None:
    """Every (method, path) the port routes is in its document, and the document has no other."""
    assert set(operations(DOCUMENTS[port])) == routes_of(port)


@pytest.mark.parametrize("port", PORTS)
def test_every_operation_documents_its_errors_and_the_request_id(port: str) -> None:
    """Every operation has an operationId, a 500, the X-Request-ID header on every answer and the
    shared error body on each 4xx and 5xx (but the 503 of the probes, which says what fails)."""
    document = DOCUMENTS[port]
    ids = []
    for path, path_item in document["paths"].items():
        for operation in path_item.values():
            ids.append(operation["operationId"])
            assert "500" in operation["responses"]
            for status, response in operation["responses"].items():
                assert response["headers"]["X-Request-ID"] == {
                    "$ref": "#/components/headers/RequestId"
                }
                if status >= "400" and (path, status) not in PROBE_ANSWERS:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("port", PORTS)
async def test_openapi_json_is_served_on_each_port(
    service: RunningService, http: aiohttp.ClientSession, port: str
) -> None:
    """GET /openapi.json answers the port's document as JSON."""
    async with http.get(f"{base_url(service, port)}/openapi.json") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        assert await response.json() == DOCUMENTS[port]


class _Links(HTMLParser):
    """The URLs a page loads: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is not None and name in ("src", "href"):
                self.urls.append(value)


@pytest.mark.parametrize("port", PORTS)
async def test_docs_page_loads_only_assets_of_the_port(
    service: RunningService, http: aiohttp.ClientSession, port: str
) -> None:
    """GET /docs is HTML whose scripts, styles and icon are relative URLs the port serves
    itself, and it names no other host."""
    base = base_url(service, port)
    async with http.get(f"{base}/docs") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert "//" not in page  # no URL with a host: http://, https:// or protocol-relative
    links = _Links()
    links.feed(page)
    assert {urlsplit(url).path for url in links.urls} == {f"docs/{name}" for name in ASSETS}
    for url in links.urls:
        async with http.get(urljoin(f"{base}/docs", url)) as asset:
            assert asset.status == 200, url
            assert len(await asset.read()) > 1000, url
    assert 'url: "openapi.json"' in page


@pytest.mark.parametrize(
    "path",
    [
        "/docs/",
        "/docs/index.css",
        "/docs/swagger-initializer.js",
        "/docs/swagger-editor.js",
        "/docs/../static/swagger-ui.css",
        "/docs/%2e%2e/swagger_ui/__init__.py",
    ],
)
async def test_docs_serves_only_the_files_the_page_needs(
    service: RunningService, http: aiohttp.ClientSession, path: str
) -> None:
    """Other files of the Swagger UI package, and paths out of it, are a JSON 404."""
    async with http.get(f"{service.cart_url}{path}") as response:
        assert response.status == 404
        assert response.content_type == "application/json"
