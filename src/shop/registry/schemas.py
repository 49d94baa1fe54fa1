"""Parsing Avro schemas and the canonical text that decides whether two schemas are the same.

Three strictnesses, as Confluent parses: a new schema (to register or to check) is validated in
full; a schema to look up has its simple names checked but not its namespaces; a stored schema is
not validated at all, since Confluent stores what its parser of the day let through.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import avro.errors
import avro.schema

from shop.registry import validation
from shop.registry.errors import InvalidSchema, SchemaTooLarge

SUPPORTED_TYPES = ("AVRO",)
# the avro package, canonical form and compatibility checker all recurse; a bound far above real
# schemas keeps them inside Python's recursion limit (Jackson's default bound is 1000)
MAX_JSON_DEPTH = 200
# The avro package parses a record's fields and a union's branches in quadratic time, so their
# number bounds the work: 10,000 fields in one record take 0.8 s to parse here, and a FULL check
# of two of them 0.05 s more.
MAX_FIELDS = 10_000
# A text as sent; longer ones are refused before they are read.
MAX_TEXT_LENGTH = 2 * 1024 * 1024
# The canonical text as the _schemas record carries it (JSON-escaped, UTF-8): within the
# producer's 1 MiB max_request_size with room for the key, the subject (twice, at most 8 KiB
# by aiohttp's request-line limit) and the record's framing.
MAX_STORED_BYTES = 1_000_000
# Parsed stored schemas up to this length are cached: 512 of them hold well under 100 MB.
CACHED_TEXT_LENGTH = 16 * 1024


@dataclass(frozen=True)
class ParsedSchema:
    """A valid Avro schema and its canonical text (compact JSON of the parsed schema)."""

    canonical: str
    avro: avro.schema.Schema
    identity: str  # see identity()


def strict_json(text: str) -> Any:
    """``json.loads`` without Python's extensions (NaN, Infinity) and nested at most
    :data:`MAX_JSON_DEPTH` deep; ``ValueError`` otherwise."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
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


def _finite(text: str) -> float:
    """A JSON number as a float; one past a double's range (1e400) would be written back as
    Infinity, which no JSON reader takes."""
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of a double's range")
    return number


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def count_fields(data: Any) -> int:
    """Record fields and union branches in a schema's JSON, each one counted where it is written
    (a named type used again by name costs nothing to parse)."""
    count, pending = 0, [data]
    while pending:
        node = pending.pop()
        if isinstance(node, list):  # a union
            count += len(node)
            pending.extend(node)
        elif isinstance(node, dict):
            fields = node.get("fields")
            if isinstance(fields, list):
                count += len(fields)
                pending.extend(field.get("type") for field in fields if isinstance(field, dict))
            pending.extend(node.get(key) for key in ("type", "items", "values"))
    return count


def check_size(text: str, data: Any = None) -> None:
    """:class:`SchemaTooLarge` if ``text``, or its JSON ``data`` once read, passes a limit."""
    if len(text) > MAX_TEXT_LENGTH:
        raise SchemaTooLarge(
            f"Schema too large: {len(text)} characters, more than the {MAX_TEXT_LENGTH} "
            "this registry reads"
        )
    if data is not None and (fields := count_fields(data)) > MAX_FIELDS:
        raise SchemaTooLarge(
            f"Schema too large: {fields} record fields and union branches, more than the "
            f"{MAX_FIELDS} this registry parses"
        )


def parse(text: str, schema_type: str = "AVRO", *, new: bool = True) -> ParsedSchema:
    """Validate ``text`` as a schema of ``schema_type``; :class:`InvalidSchema` if it is not one,
    :class:`SchemaTooLarge` if it passes a limit.

    ``new`` schemas (to register or to check) are validated as Confluent validates new ones:
    names, namespaces, enum symbols and defaults. A lookup (``new=False``) is validated as
    Confluent validates a schema that is not new: simple names only (not namespaces, not defaults),
    so that a schema stored with a namespace such as ``com.x-y`` can be looked up.
    """
    if schema_type not in SUPPORTED_TYPES:
        raise InvalidSchema(f"Invalid schema type {schema_type}: only AVRO is supported")
    check_size(text)
    try:
        data = strict_json(text)
        check_size(text, data)
        parsed = _parse(text, validate=new)
        found = validation.problems(parsed, new=new)
        canonical = canonical_text(parsed)
        # a lone surrogate ("\ud800") reads as JSON but cannot be stored: UnicodeEncodeError
        stored = len(json.dumps(canonical, ensure_ascii=False).encode())
    except (avro.errors.AvroException, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InvalidSchema(f"Invalid schema: {exc}") from None
    if found:
        raise InvalidSchema(f"Invalid schema: {'; '.join(found)}")
    if stored > MAX_STORED_BYTES:
        raise SchemaTooLarge(
            f"Schema too large: {stored} bytes as stored, more than the {MAX_STORED_BYTES} "
            "a _schemas record holds"
        )
    return ParsedSchema(canonical, parsed, identity(canonical))


def parse_canonical(canonical: str) -> ParsedSchema:
    """A stored schema, without validation: Confluent does not validate what it reads back, and
    a topic it wrote holds what its parser of the day accepted. Schemas of usual sizes are
    parsed once and cached; a large one costs its parse every time rather than its memory."""
    if len(canonical) <= CACHED_TEXT_LENGTH:
        return _parse_stored(canonical)
    return _parse_stored.__wrapped__(canonical)


@lru_cache(maxsize=512)
def _parse_stored(canonical: str) -> ParsedSchema:
    return ParsedSchema(canonical, _parse(canonical, validate=False), identity(canonical))


def identity(text: str) -> str:
    """What decides whether two schema texts hold the same schema: a digest of the text's JSON
    in Avro Java's form (full or relative names, ``"order": "ascending"``), keys sorted. A text
    this registry stored before it took Avro Java's form (the avro package's ``to_json``) thus
    has the identity of today's canonical text of its schema. A text that is not JSON is its own.

    No avro parse: the database asks on the event loop, for every record it reads.
    """
    try:
        normal = json.dumps(
            _java_form(json.loads(text), None),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError):
        normal = text
    return hashlib.sha256(normal.encode("utf-8", "surrogatepass")).hexdigest()


def _parse(text: str, validate: bool) -> avro.schema.Schema:
    """The avro package's parse; ``validate`` checks names, namespaces and enum symbols.

    It warns (IgnoredLogicalType) where it drops an unusable logical type; validation.problems
    reports the ones that matter, the rest are Avro's "ignore it". catch_warnings swaps the
    process's filters and parsing runs in threads, so a warning may escape as a printed line or
    the filter outlive the block; neither matters, and a lock would make the loop wait for a
    thread's parse wherever it parses a stored schema.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", avro.errors.IgnoredLogicalType)
        return avro.schema.parse(text, validate_enum_symbols=validate, validate_names=validate)


def canonical_text(schema: avro.schema.Schema) -> str:
    """Compact JSON of ``schema`` as Avro Java's ``Schema.toString()`` writes it, the text
    Confluent stores and clients compare: its key order, namespaces and names relative to the
    enclosing namespace, no ``"order": "ascending"``."""
    return json.dumps(_java_form(schema.to_json(), None), separators=(",", ":"), ensure_ascii=False)


# Keys each kind of schema writes first and last in Avro Java's Schema.toJson, other properties
# between them in the order they were read.
_FIRST = {
    "record": ("type", "name", "namespace", "doc", "fields"),
    "error": ("type", "name", "namespace", "doc", "fields"),
    "enum": ("type", "name", "namespace", "doc", "symbols", "default"),
    "fixed": ("type", "name", "namespace", "doc", "size"),
    "array": ("type", "items"),
    "map": ("type", "values"),
}
_NAMED = ("record", "error", "enum", "fixed")
_LAST = ("aliases",)
_FIELD_FIRST = ("name", "type", "doc", "default", "order", "aliases")
# Java writes a name in full where its short form would read as one of these (Name.shouldWriteFull)
_TYPE_NAMES = frozenset(
    {"record", "enum", "array", "map", "union", "fixed", "string", "bytes", "int", "long"}
    | {"float", "double", "boolean", "null"}
)


def _java_form(node: Any, namespace: str | None) -> Any:
    """A schema's JSON as the avro package writes it (full names everywhere), in Avro Java's
    form inside ``namespace``; defaults and other properties are values, kept as they are."""
    if isinstance(node, list):
        return [_java_form(branch, namespace) for branch in node]
    if isinstance(node, str):
        return _relative(node, namespace)
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if not isinstance(kind, str) or kind not in _FIRST:
        return _reorder(node, ("type",), ())
    ordered = _reorder(node, _FIRST[kind], _LAST if kind in _NAMED else ())
    if kind in ("array", "map"):
        key = "items" if kind == "array" else "values"
        if key in ordered:
            ordered[key] = _java_form(ordered[key], namespace)
        return ordered
    space = ordered.get("namespace") or None
    if space == namespace:
        ordered.pop("namespace", None)
    elif space is None:  # a type outside any namespace, inside one
        ordered = _reorder({**ordered, "namespace": ""}, _FIRST[kind], _LAST)
    if isinstance(ordered.get("aliases"), list):
        ordered["aliases"] = [_relative(alias, space) for alias in ordered["aliases"]]
    if isinstance(ordered.get("fields"), list):
        ordered["fields"] = [_field_form(field, space) for field in ordered["fields"]]
    return ordered


def _field_form(field: Any, namespace: str | None) -> Any:
    if not isinstance(field, dict):
        return field
    ordered = _reorder(field, _FIELD_FIRST, ())
    if ordered.get("order") == "ascending":
        del ordered["order"]  # Avro Java writes only an order that is not the default
    if "type" in ordered:
        ordered["type"] = _java_form(ordered["type"], namespace)
    return ordered


def _relative(name: str, namespace: str | None) -> str:
    """A full name as Java writes it inside ``namespace`` (Name.getQualified)."""
    space, _, short = name.rpartition(".")
    return short if space and space == namespace and short not in _TYPE_NAMES else name


def _reorder(node: dict[str, Any], first: tuple[str, ...], last: tuple[str, ...]) -> dict[str, Any]:
    edges = (*first, *last)
    return {
        **{key: node[key] for key in first if key in node},
        **{key: value for key, value in node.items() if key not in edges},
        **{key: node[key] for key in last if key in node},
    }
