"""Reading requests: path parts, query flags and JSON bodies, failing with Confluent's errors."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from shop.registry.errors import (
    BadRequest,
    InvalidCompatibilityLevel,
    InvalidSchema,
    InvalidSubject,
    InvalidVersion,
)
from shop.registry.schemas import strict_json
from shop.registry.typedefs import Compatibility, SchemaId, Subject, Version

ACCEPTED_CONTENT_TYPES = frozenset(
    {
        "application/vnd.schemaregistry.v1+json",
        "application/vnd.schemaregistry+json",
        "application/json",
        "application/octet-stream",  # what aiohttp reports when a request names no content type
    }
)
SMALL_BODY = 64 * 1024
# names Confluent keeps for its global config and mode (QualifiedSubject.isValidSubject)
RESERVED_SUBJECTS = frozenset({"__GLOBAL", "__EMPTY"})
MAX_PAGE = 1000  # Confluent's schema.search.default.limit and .max.limit
JAVA_INT = range(-(2**31), 2**31)
# what Java's Integer.parseInt takes: a sign, then decimal digits of any script (as int() takes
# them), but not the "1_0" or " 1" int() also takes, nor so many digits that int() refuses them
INTEGER = re.compile(r"[+-]?\d{1,4000}")
# what Java's String.trim strips: every character up to the space
JAVA_BLANKS = "".join(map(chr, range(0x21)))


def subject(request: web.Request) -> Subject:
    name = request.match_info["subject"]
    if any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in name):
        raise InvalidSubject("it contains control characters")
    if name.startswith(":."):
        raise InvalidSubject("contexts are not supported")
    if name in RESERVED_SUBJECTS:
        raise InvalidSubject(f"{name} is reserved")
    return Subject(name)


def version(request: web.Request) -> Version | None:
    """The version in the path, read as Confluent's ``VersionId`` does (trimmed, ``latest`` in
    any case); ``None`` for ``latest`` or -1."""
    text = request.match_info["version"]
    trimmed = text.strip(JAVA_BLANKS)
    if trimmed.lower() == "latest":
        return None
    number = java_int(trimmed)
    if number is None:
        raise InvalidVersion(text)
    if number == -1:
        return None
    if number < 1:
        raise InvalidVersion(str(number))
    return Version(number)


def schema_id(request: web.Request) -> SchemaId:
    """The id in the path; like Confluent's ``Integer`` path parameter, anything that is not a
    Java ``int`` matches no resource: a plain 404 (error code 404), not "schema not found"."""
    number = java_int(request.match_info["schema_id"])
    if number is None:
        raise BadRequest(404, "HTTP 404 Not Found")
    return SchemaId(number)


def java_int(text: str) -> int | None:
    """``text`` as Java's ``Integer.valueOf`` reads it, or ``None`` where that would throw."""
    # Java reads a digit from one UTF-16 unit: none outside the Basic Multilingual Plane
    if not INTEGER.fullmatch(text) or max(map(ord, text)) > 0xFFFF:
        return None
    if (number := int(text)) not in JAVA_INT:
        return None
    return number


def page(request: web.Request) -> tuple[int, int]:
    """``offset`` and ``limit`` as Confluent's listings read them: a limit outside 1..1000 is
    1000, and a value that is not a Java int matches no resource (404, as Jersey answers)."""
    numbers = []
    for name, default in (("offset", 0), ("limit", -1)):
        text = request.query.get(name)
        number = default if text is None else java_int(text)
        if number is None:
            raise BadRequest(404, "HTTP 404 Not Found")
        numbers.append(number)
    offset, limit = numbers
    return max(offset, 0), limit if 0 < limit <= MAX_PAGE else MAX_PAGE


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
        # a body of a few megabytes takes a while to read and walk: not on the loop
        data = (
            strict_json(text)
            if len(text) < SMALL_BODY
            else await asyncio.to_thread(strict_json, text)
        )
    except ValueError as exc:
        raise BadRequest(400, f"Invalid JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "The request body must be a JSON object")
    return data


def schema_text(data: dict[str, Any]) -> tuple[str, str]:
    """The body's schema text and type, once the body's shape is right (the text is parsed by
    :meth:`~shop.registry.registry.Registry.parse`)."""
    text, schema_type = data.get("schema"), data.get("schemaType") or "AVRO"
    if text is not None and not isinstance(text, str):
        raise InvalidSchema("The schema must be a JSON string holding the schema text")
    if not text or not text.strip():
        raise InvalidSchema("Empty schema")
    if not isinstance(schema_type, str):
        raise InvalidSchema(f"Invalid schema type {schema_type!r}")
    if data.get("references"):
        raise InvalidSchema("Schema references are not supported by this registry")
    return text, schema_type


def compatibility(data: dict[str, Any]) -> Compatibility:
    level = data.get("compatibility", data.get("compatibilityLevel"))
    if not isinstance(level, str):
        raise InvalidCompatibilityLevel()
    try:
        return Compatibility(level.upper())
    except ValueError:
        raise InvalidCompatibilityLevel() from None
