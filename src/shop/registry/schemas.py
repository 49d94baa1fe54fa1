"""Parsing Avro schemas and the canonical text that decides whether two schemas are the same."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import avro.errors
import avro.schema

from shop.registry.errors import InvalidSchema

SUPPORTED_TYPES = ("AVRO",)


@dataclass(frozen=True)
class ParsedSchema:
    """A valid Avro schema and its canonical text (compact JSON of the parsed schema)."""

    canonical: str
    avro: avro.schema.Schema


def parse(text: str, schema_type: str = "AVRO") -> ParsedSchema:
    """Validate ``text`` as a schema of ``schema_type``; :class:`InvalidSchema` if it is not one."""
    if schema_type not in SUPPORTED_TYPES:
        raise InvalidSchema(f"Invalid schema type {schema_type}: only AVRO is supported")
    try:
        parsed = avro.schema.parse(text)
    except (avro.errors.AvroException, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InvalidSchema(f"Invalid schema: {exc}") from None
    canonical = json.dumps(parsed.to_json(), separators=(",", ":"), ensure_ascii=False)
    return parse_canonical(canonical)


@lru_cache(maxsize=1024)
def parse_canonical(canonical: str) -> ParsedSchema:
    """A stored schema, parsed once and cached (stored schemas are valid by construction)."""
    return ParsedSchema(canonical, avro.schema.parse(canonical))
