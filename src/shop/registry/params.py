"""Reading requests: path parts, query flags and JSON bodies, failing with Confluent's errors."""

from __future__ import annotations

import re
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
from shop.registry.schemas import ParsedSchema, parse, strict_json
from shop.registry.typedefs import Compatibility, SchemaId, Subject, Version

# What every answer is sent as, like Confluent's.
CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
ACCEPTED_CONTENT_TYPES = frozenset(
    {
        "application/vnd.schemaregistry.v1+json",
        "application/vnd.schemaregistry+json",
        "application/json",
        "application/octet-stream",  # what aiohttp reports when a request names no content type
    }
)
MAX_VERSION = 2**31 - 1
# what Java's Integer.valueOf takes; Python's int() also takes "1_0", " 1" and other scripts' digits
INTEGER = re.compile(r"[+-]?[0-9]+")


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
    if not INTEGER.fullmatch(text) or not 1 <= (number := int(text)) <= MAX_VERSION:
        raise InvalidVersion(text)
    return Version(number)


def schema_id(request: web.Request) -> SchemaId:
    text = request.match_info["schema_id"]
    if not INTEGER.fullmatch(text):
        raise SchemaNotFound(f"Schema {text} not found")
    return SchemaId(int(text))


def flag(request: web.Request, name: str) -> bool:
    """A boolean query parameter; clients send ``true``, ``True`` and ``TRUE`` alike."""
    return request.query.get(name, "false").strip().lower() == "true"


async def body(request: web.Request) -> dict[str, Any]:
    if request.content_type not in ACCEPTED_CONTENT_TYPES:
        raise BadRequest(415, "HTTP 415 Unsupported Media Type")
    raw = await request.read()
    try:
        text = raw.decode(request.charset or "utf-8")
    except (LookupError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"Undecodable body: {exc}") from None
    try:
        data = strict_json(text)
    except ValueError as exc:
        raise BadRequest(400, f"Invalid JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "The request body must be a JSON object")
    return data


def schema(data: dict[str, Any], *, new: bool = True) -> ParsedSchema:
    """The body's schema; ``new`` ones (not a lookup) must also have valid defaults."""
    text, schema_type = data.get("schema"), data.get("schemaType") or "AVRO"
    if text is not None and not isinstance(text, str):
        raise InvalidSchema("The schema must be a JSON string holding the schema text")
    if not text or not text.strip():
        raise InvalidSchema("Empty schema")
    if not isinstance(schema_type, str):
        raise InvalidSchema(f"Invalid schema type {schema_type!r}")
    if data.get("references"):
        raise InvalidSchema("Schema references are not supported by this registry")
    return parse(text, schema_type, new=new)


def compatibility(data: dict[str, Any]) -> Compatibility:
    level = data.get("compatibility", data.get("compatibilityLevel"))
    if not isinstance(level, str):
        raise InvalidCompatibilityLevel()
    try:
        return Compatibility(level.upper())
    except ValueError:
        raise InvalidCompatibilityLevel() from None
