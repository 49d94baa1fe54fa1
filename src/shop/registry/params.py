"""Reading requests: path parts, query flags and JSON bodies, failing with Confluent's errors."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from shop.registry.errors import (
    BadRequest,
    InvalidCompatibilityLevel,
    InvalidSchema,
    InvalidSubject,
    InvalidVersion,
    SchemaNotFound,
)
from shop.registry.schemas import ParsedSchema, parse
from shop.registry.typedefs import Compatibility, SchemaId, Subject, Version

ACCEPTED_CONTENT_TYPES = frozenset({
    "application/vnd.schemaregistry.v1+json",
    "application/vnd.schemaregistry+json",
    "application/json",
    "application/octet-stream",  # what aiohttp reports when a request names no content type
})
MAX_VERSION = 2**31 - 1


def subject(request: web.Request) -> Subject:
    name = request.match_info["subject"]
    if any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in name):
        raise InvalidSubject("it contains control characters")
    if name.startswith(":."):
        raise InvalidSubject("contexts are not supported")
    return Subject(name)


def version(request: web.Request) -> Version | None:
    """The version in the path; ``None`` for ``latest`` or -1."""
    text = request.match_info["version"]
    if text in ("latest", "-1"):
        return None
    try:
        number = int(text)
    except ValueError:
        raise InvalidVersion(text) from None
    if not 1 <= number <= MAX_VERSION:
        raise InvalidVersion(text)
    return Version(number)


def schema_id(request: web.Request) -> SchemaId:
    text = request.match_info["schema_id"]
    try:
        return SchemaId(int(text))
    except ValueError:
        raise SchemaNotFound(f"Schema {text} not found") from None


def flag(request: web.Request, name: str) -> bool:
    """A boolean query parameter; clients send ``true``, ``True`` and ``TRUE`` alike."""
    return request.query.get(name, "false").strip().lower() == "true"


async def body(request: web.Request) -> dict[str, Any]:
    if request.content_type not in ACCEPTED_CONTENT_TYPES:
        raise BadRequest(415, "HTTP 415 Unsupported Media Type")
    text = await request.text()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BadRequest(400, f"Invalid JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "The request body must be a JSON object")
    return data


def schema(data: dict[str, Any]) -> ParsedSchema:
    text, schema_type = data.get("schema"), data.get("schemaType") or "AVRO"
    if not isinstance(text, str) or not text.strip():
        raise InvalidSchema("Empty schema")
    if not isinstance(schema_type, str):
        raise InvalidSchema(f"Invalid schema type {schema_type!r}")
    if data.get("references"):
        raise InvalidSchema("Schema references are not supported by this registry")
    return parse(text, schema_type)


def compatibility(data: dict[str, Any]) -> Compatibility:
    level = data.get("compatibility", data.get("compatibilityLevel"))
    if not isinstance(level, str):
        raise InvalidCompatibilityLevel()
    try:
        return Compatibility(level.upper())
    except ValueError:
        raise InvalidCompatibilityLevel() from None
