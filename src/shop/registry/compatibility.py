"""Schema compatibility as pure functions over parsed schemas, using the ``avro`` checker.

BACKWARD: the new schema reads data written with the old one. FORWARD: the old schema reads data
written with the new one. FULL: both. The ``_TRANSITIVE`` forms check against every live version,
the others against the latest only.
"""

from __future__ import annotations

from collections.abc import Sequence

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from shop.registry.typedefs import Compatibility

_TRANSITIVE = {
    Compatibility.BACKWARD_TRANSITIVE,
    Compatibility.FORWARD_TRANSITIVE,
    Compatibility.FULL_TRANSITIVE,
}
_BACKWARD = {
    Compatibility.BACKWARD,
    Compatibility.BACKWARD_TRANSITIVE,
    Compatibility.FULL,
    Compatibility.FULL_TRANSITIVE,
}
_FORWARD = {
    Compatibility.FORWARD,
    Compatibility.FORWARD_TRANSITIVE,
    Compatibility.FULL,
    Compatibility.FULL_TRANSITIVE,
}


def read_problems(reader: avro.schema.Schema, writer: avro.schema.Schema) -> list[str]:
    """Why ``reader`` cannot read data written with ``writer``; empty when it can."""
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]  # avro is untyped
    result = checker.get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    kinds = ", ".join(sorted(kind.name.upper() for kind in result.incompatibilities))
    where = ", ".join(sorted(result.locations))
    return [
        f"{{errorType:'{kinds}', description:'{message}', location:'{where}'}}"
        for message in sorted(result.messages)
    ]


def problems_against(
    level: Compatibility, new: avro.schema.Schema, old: avro.schema.Schema
) -> list[str]:
    """Why ``new`` may not follow ``old`` under ``level``, ignoring transitivity."""
    found: list[str] = []
    if level in _BACKWARD:
        found += read_problems(reader=new, writer=old)
    if level in _FORWARD:
        found += read_problems(reader=old, writer=new)
    return found


def problems(
    level: Compatibility, new: avro.schema.Schema, live: Sequence[avro.schema.Schema]
) -> list[str]:
    """Why ``new`` may not follow the ``live`` versions (oldest first) under ``level``."""
    targets = live if level in _TRANSITIVE else live[-1:]
    return [message for old in targets for message in problems_against(level, new, old)]
