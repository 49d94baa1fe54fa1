"""Schema compatibility as pure functions over parsed schemas, using the ``avro`` checker.

BACKWARD: the new schema reads data written with the old one. FORWARD: the old schema reads data
written with the new one. FULL: both. The ``_TRANSITIVE`` forms check against every live version,
the others against the latest only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import avro.schema
from avro.compatibility import (
    CompatibleResult,
    ReaderWriterCompatibilityChecker,
    SchemaCompatibilityResult,
    SchemaCompatibilityType,
    SchemaIncompatibilityType,
    incompatible,
)

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
_COMPATIBLE = SchemaCompatibilityType.compatible
_INCOMPATIBLE = SchemaCompatibilityType.incompatible

# a union's branches, with their positions, by what a writer must have to match them
Branches = dict[tuple[str, str, str], list[tuple[int, avro.schema.Schema]]]


class Checker(ReaderWriterCompatibilityChecker):
    """The avro package's checker, with its answers and without its quadratic costs.

    Its memo hashes a (reader, writer) pair as ``id(reader) ^ id(writer)``, which collides for
    most pairs of a wide record's fields; its record check rebuilds the writer's name-to-field
    dict for every reader field; and a reader union tries every branch for each writer branch.
    Here the memo is keyed by both ids, each writer record's dict is built once, and a reader
    union tries only the branches that can match: for a named writer, those of its type and name
    (or with an alias, as the original's name check allows); for another, the unnamed ones. The
    original finds every other branch incompatible (a name or type mismatch) anyway.
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # the avro package is partly typed
        self.memoize_map: dict[tuple[int, int], SchemaCompatibilityResult] = {}
        self._fields: dict[int, dict[str, avro.schema.Field]] = {}
        self._branches: dict[int, Branches] = {}

    def get_compatibility(
        self,
        reader: avro.schema.Schema,
        writer: avro.schema.Schema,
        reference_token: str = ReaderWriterCompatibilityChecker.ROOT_REFERENCE_TOKEN,
        location: list[str] | None = None,
    ) -> SchemaCompatibilityResult:
        pair = (id(reader), id(writer))
        if (known := self.memoize_map.get(pair)) is not None:
            if known.compatibility is SchemaCompatibilityType.recursion_in_progress:
                return CompatibleResult  # a recursive type, assumed compatible as the original does
            return known
        self.memoize_map[pair] = SchemaCompatibilityResult()
        where = [*(location or []), reference_token]
        result: SchemaCompatibilityResult = self.calculate_compatibility(reader, writer, where)
        self.memoize_map[pair] = result
        return result

    def calculate_compatibility(
        self, reader: avro.schema.Schema, writer: avro.schema.Schema, location: list[str]
    ) -> SchemaCompatibilityResult:
        if isinstance(writer, avro.schema.UnionSchema):
            if isinstance(reader, avro.schema.UnionSchema):
                return _merge_all(self._missing_branches(reader, writer, location))
            return _merge_all(self.get_compatibility(reader, branch) for branch in writer.schemas)
        if not isinstance(reader, avro.schema.UnionSchema):
            return super().calculate_compatibility(reader, writer, location)
        for branch in self._candidates(reader, writer):
            if self.get_compatibility(branch, writer).compatibility is _COMPATIBLE:
                return CompatibleResult
        message = f"reader union lacking writer type {writer.type}"
        return incompatible(SchemaIncompatibilityType.missing_union_branch, message, location)

    def _missing_branches(
        self, reader: avro.schema.UnionSchema, writer: avro.schema.UnionSchema, location: list[str]
    ) -> Iterator[SchemaCompatibilityResult]:
        for i, branch in enumerate(writer.schemas):
            if self.get_compatibility(reader, branch).compatibility is _INCOMPATIBLE:
                message = f"reader union lacking writer type: {branch.type.upper()}"
                kind = SchemaIncompatibilityType.missing_union_branch
                yield incompatible(kind, message, [*location, str(i)])

    def check_reader_writer_record_fields(
        self,
        reader: avro.schema.RecordSchema,
        writer: avro.schema.RecordSchema,
        location: list[str],
    ) -> SchemaCompatibilityResult:
        by_name = self._fields.get(id(writer))
        if by_name is None:
            by_name = self._fields[id(writer)] = {field.name: field for field in writer.fields}
        return _merge_all(self._field_results(reader, writer, by_name, location))

    def _field_results(
        self,
        reader: avro.schema.RecordSchema,
        writer: avro.schema.RecordSchema,
        by_name: dict[str, avro.schema.Field],
        location: list[str],
    ) -> Iterator[SchemaCompatibilityResult]:
        """What the original merges, field by field: nothing for a missing field with a default."""
        for i, field in enumerate(reader.fields):
            where = [*location, "fields", str(i)]
            found = _writer_field(by_name, field)
            if found is not None:
                yield self.get_compatibility(field.type, found.type, "type", where)
            elif field.has_default:
                continue
            elif field.type.type == "enum" and field.type.props.get("default"):
                # the avro package reads a field missing from the writer through an enum's
                # default this way; kept for the same answers
                yield self.get_compatibility(field.type, writer, "type", where)
            else:
                kind = SchemaIncompatibilityType.reader_field_missing_default_value
                yield incompatible(kind, field.name, where)

    def _candidates(
        self, reader: avro.schema.UnionSchema, writer: avro.schema.Schema
    ) -> list[avro.schema.Schema]:
        """The reader branches that can read ``writer``, in the union's order."""
        index = self._branches.get(id(reader))
        if index is None:
            index = self._branches[id(reader)] = _index(reader)
        if not isinstance(writer, avro.schema.NamedSchema):
            found = index.get(("unnamed", "", ""), [])
        else:
            found = index.get(("name", writer.type, writer.name), [])
            if by_alias := index.get(("alias", writer.type, writer.fullname)):
                found = sorted(dict(found + by_alias).items())
        return [branch for _, branch in found]


def _index(union: avro.schema.UnionSchema) -> Branches:
    """A union's branches with their positions: named ones by type and name and by type and
    each alias, the others together."""
    index: Branches = {}
    for position, branch in enumerate(union.schemas):
        if not isinstance(branch, avro.schema.NamedSchema):
            index.setdefault(("unnamed", "", ""), []).append((position, branch))
            continue
        index.setdefault(("name", branch.type, branch.name), []).append((position, branch))
        aliases = branch.props.get("aliases")
        for alias in set(aliases) if isinstance(aliases, list) else ():
            index.setdefault(("alias", branch.type, alias), []).append((position, branch))
    return index


def _merge_all(results: Iterable[SchemaCompatibilityResult]) -> SchemaCompatibilityResult:
    """``results`` merged in order as the avro package's ``merge`` merges two, in linear time
    (``merge`` copies what it has gathered, so merging many one at a time is quadratic)."""
    compatibility = _COMPATIBLE
    kinds: list[SchemaIncompatibilityType] = []
    messages: set[str] = set()
    locations: set[str] = set()
    for result in results:
        kinds += result.incompatibilities
        if compatibility is _COMPATIBLE:
            compatibility = result.compatibility
            messages, locations = set(result.messages), set(result.locations)
        else:
            messages |= result.messages
            locations |= result.locations
    if compatibility is _COMPATIBLE and not kinds:
        return CompatibleResult
    return SchemaCompatibilityResult(compatibility, kinds, messages, locations)


def _writer_field(
    by_name: dict[str, avro.schema.Field], field: avro.schema.Field
) -> avro.schema.Field | None:
    """The avro package's ``lookup_writer_field`` over a prepared dict: by name, then alias."""
    if direct := by_name.get(field.name):
        return direct
    aliases: Any = field.props.get("aliases")
    if not isinstance(aliases, Iterable):
        return None
    for alias in aliases:
        if (found := by_name.get(alias)) is not None:
            return found
    return None


def read_problems(reader: avro.schema.Schema, writer: avro.schema.Schema) -> list[str]:
    """Why ``reader`` cannot read data written with ``writer``; empty when it can."""
    result = Checker().get_compatibility(reader, writer)
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
