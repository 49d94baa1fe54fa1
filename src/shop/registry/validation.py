"""What Java's Avro parser refuses and the ``avro`` package lets through. Pure functions.

The ``avro`` package accepts any field name, ignores a decimal whose precision and scale cannot
work (with a warning), and does not check defaults at all ("TODO(hammer)" in its ``Field``). A
schema registered with a default of the wrong type breaks every reader that needs the default, so
new schemas are checked the way Confluent's registry checks them with ``avro.validate.defaults``:
a default must match its field's type, and a union's default its first branch.

A schema that is not new (a lookup) is parsed without the avro package's name checks and checked
as Confluent checks it (``AvroSchemaUtils.validateNames``): the simple names of types, fields and
enum symbols by Avro's ``UTF_VALIDATOR`` (letters, digits and ``_`` of any script), namespaces not
at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import avro.schema

FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
INT_RANGE = range(-(2**31), 2**31)
LONG_RANGE = range(-(2**63), 2**63)


def problems(schema: avro.schema.Schema, new: bool) -> list[str]:
    """Why ``schema`` is not valid Avro; a ``new`` one also needs valid defaults and ASCII field
    names (the parser checked its other names), one that is not needs Unicode simple names."""
    found: list[str] = []
    for node in _walk(schema):
        if _is_ignored_decimal(node):
            found.append(f"invalid decimal {node.to_json()}: check precision, scale and size")
        if isinstance(node, avro.schema.RecordSchema):
            found += _field_problems(node, new)
        if not new and isinstance(node, avro.schema.NamedSchema):
            found += _name_problems(node)
    return found


def _field_problems(record: avro.schema.RecordSchema, new: bool) -> list[str]:
    found: list[str] = []
    for field in record.fields:
        where = f"field {field.name!r} of {record.fullname}"
        if not (FIELD_NAME.fullmatch(field.name) if new else utf_name(field.name)):
            found.append(f"invalid name of {where}")
        if new and field.has_default and not valid_default(field.type, field.default):
            found.append(f"invalid default {json.dumps(field.default)} of {where}")
    return found


def utf_name(name: str) -> bool:
    """Avro Java's ``UTF_VALIDATOR``: a letter or ``_``, then letters, decimal digits or ``_``
    (Java's ``isLetter`` and ``isDigit`` are Python's ``isalpha`` and ``isdecimal``)."""
    return (
        bool(name)
        and (name[0].isalpha() or name[0] == "_")
        and all(char.isalpha() or char.isdecimal() or char == "_" for char in name[1:])
    )


def _name_problems(named: avro.schema.NamedSchema) -> list[str]:
    found: list[str] = []
    if not utf_name(named.name):
        found.append(f"invalid name {named.name!r} of {named.fullname}")
    if isinstance(named, avro.schema.EnumSchema):
        found += [
            f"invalid symbol {symbol!r} of {named.fullname}"
            for symbol in named.symbols
            if not utf_name(symbol)
        ]
        default = named.props.get("default")
        if default is not None and default not in named.symbols:
            found.append(f"default {default!r} of {named.fullname} is not one of its symbols")
    return found


def valid_default(schema: avro.schema.Schema, value: Any) -> bool:
    """Whether the JSON ``value`` is a valid default for ``schema`` (Avro's JSON encoding)."""
    kind = schema.type
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("int", "long"):
        numbers = INT_RANGE if kind == "int" else LONG_RANGE
        return isinstance(value, int) and not isinstance(value, bool) and value in numbers
    if kind in ("float", "double"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "bytes":
        return _is_byte_string(value)
    if isinstance(schema, avro.schema.FixedSchema):
        return _is_byte_string(value) and len(value) == schema.size
    if isinstance(schema, avro.schema.EnumSchema):
        return isinstance(value, str) and value in schema.symbols
    if isinstance(schema, avro.schema.ArraySchema):
        return isinstance(value, list) and all(valid_default(schema.items, item) for item in value)
    if isinstance(schema, avro.schema.MapSchema):
        return isinstance(value, dict) and all(
            valid_default(schema.values, item) for item in value.values()
        )
    if isinstance(schema, avro.schema.RecordSchema):
        return isinstance(value, dict) and all(
            valid_default(field.type, value[field.name])
            if field.name in value
            else field.has_default
            for field in schema.fields
        )
    if isinstance(schema, avro.schema.UnionSchema):
        return bool(schema.schemas) and valid_default(schema.schemas[0], value)
    return False


def _is_byte_string(value: Any) -> bool:
    """Bytes in Avro's JSON encoding: a string of code points 0-255, one per byte."""
    return isinstance(value, str) and all(ord(char) <= 0xFF for char in value)


def _is_ignored_decimal(node: avro.schema.Schema) -> bool:
    """A decimal the ``avro`` package dropped to its plain type: precision or scale is wrong."""
    if node.props.get("logicalType") != "decimal":
        return False
    return not isinstance(node, avro.schema.BytesDecimalSchema | avro.schema.FixedDecimalSchema)


def _walk(schema: avro.schema.Schema) -> Iterator[avro.schema.Schema]:
    """Every schema inside ``schema`` once, recursive named types included."""
    seen: set[int] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if isinstance(node, avro.schema.RecordSchema):
            pending.extend(field.type for field in node.fields)
        elif isinstance(node, avro.schema.UnionSchema):
            pending.extend(node.schemas)
        elif isinstance(node, avro.schema.ArraySchema):
            pending.append(node.items)
        elif isinstance(node, avro.schema.MapSchema):
            pending.append(node.values)
