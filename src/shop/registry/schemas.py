"""Parsing Avro schemas and the canonical text that decides whether two schemas are the same."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import avro.errors
import avro.schema

from shop.registry import validation
from shop.registry.errors import InvalidSchema

SUPPORTED_TYPES = ("AVRO",)
# the avro package, canonical form and compatibility checker all recurse; a bound far above real
# schemas keeps them inside Python's recursion limit (Jackson's default bound is 1000)
MAX_JSON_DEPTH = 200


@dataclass(frozen=True)
class ParsedSchema:
    """A valid Avro schema and its canonical text (compact JSON of the parsed schema)."""

    canonical: str
    avro: avro.schema.Schema


def strict_json(text: str) -> Any:
    """``json.loads`` without Python's extensions (NaN, Infinity) and nested at most
    :data:`MAX_JSON_DEPTH` deep; ``ValueError`` otherwise."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        data = None
    else:
        if _depth(data) <= MAX_JSON_DEPTH:
            return data
    raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")


def _depth(data: Any) -> int:
    deepest, pending = 0, [(data, 1)]
    while pending:
        node, level = pending.pop()
        deepest = max(deepest, level)
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        )
        pending.extend((child, level + 1) for child in children)
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse(text: str, schema_type: str = "AVRO", *, new: bool = True) -> ParsedSchema:
    """Validate ``text`` as a schema of ``schema_type``; :class:`InvalidSchema` if it is not one.

    ``new`` schemas (to register or to check) must also have valid defaults; a lookup accepts
    a schema stored before defaults were checked.
    """
    if schema_type not in SUPPORTED_TYPES:
        raise InvalidSchema(f"Invalid schema type {schema_type}: only AVRO is supported")
    try:
        strict_json(text)
        # the avro package warns (IgnoredLogicalType) where it drops an unusable logical type;
        # validation.problems reports the ones that matter, the rest are Avro's "ignore it"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", avro.errors.IgnoredLogicalType)
            parsed = avro.schema.parse(text)
            found = validation.problems(parsed, defaults=new)
            canonical = json.dumps(parsed.to_json(), separators=(",", ":"), ensure_ascii=False)
    except (avro.errors.AvroException, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InvalidSchema(f"Invalid schema: {exc}") from None
    if found:
        raise InvalidSchema(f"Invalid schema: {'; '.join(found)}")
    return parse_canonical(canonical)


@lru_cache(maxsize=1024)
def parse_canonical(canonical: str) -> ParsedSchema:
    """A stored schema, parsed once and cached (stored schemas are valid by construction)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", avro.errors.IgnoredLogicalType)
        return ParsedSchema(canonical, avro.schema.parse(canonical))
