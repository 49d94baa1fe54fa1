"""Schema compatibility as pure functions over parsed schemas, with the ``avro`` package's verdicts
and Confluent's messages.

BACKWARD: the new schema reads data written with the old one. FORWARD: the old schema reads data
written with the new one. FULL: both. The ``_TRANSITIVE`` forms check against every live version,
newest first, and answer the problems with the first incompatible one; the others check against
the latest only.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

import avro.schema
from avro.compatibility import SchemaIncompatibilityType, schema_name_equals

from shop.registry.errors import SchemaTooLarge
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
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
# what a reader of each type also reads, as Avro's schema resolution promotes
_PROMOTIONS = {
    "long": {"int"},
    "float": {"int", "long"},
    "double": {"int", "long", "float"},
    "bytes": {"string"},
    "string": {"bytes"},
}
_UNNAMED = ("unnamed", "", "")

# Bounds on one answer. Confluent has none, but one pair of schemas within every size limit can
# have more incompatibilities than it has fields (a record type read against many writer types
# lists its fields for each), and a message can repeat a long part of the other schema (a writer
# enum's symbols, at each reader enum that lacks them), so an unbounded answer can reach
# gigabytes. MAX_PROBLEMS lists every field of the widest record allowed (MAX_FIELDS).
MAX_PROBLEMS = 10_000
# The pairs of types one check compares, a bound on its work. A schema within the field limit
# compares each of its types with one other: each direction of a FULL check of two records of
# 10,000 fields makes 10,000 comparisons, of 2,000 fields holding a record each 14,000. A
# reader union of same-named types (a.E, b.E, ...) is compared branch by branch, as Avro Java
# does, which is quadratic: 300 such enums against 300 make 90,000 comparisons (3.2 s).
MAX_CHECKS = 50_000
MAX_MESSAGE_LENGTH = 500
TOO_MANY = "More incompatibilities were found; at most {} are listed"

# a union's branches, with their positions, by what a writer must have to match them
Branches = dict[tuple[str, str, str], list[tuple[int, avro.schema.Schema]]]


class Problem(NamedTuple):
    """One incompatibility, as Avro Java's ``SchemaCompatibility.Incompatibility`` has it."""

    kind: SchemaIncompatibilityType
    message: str
    location: str


@dataclass(eq=False, slots=True)
class Found:
    """What one (reader, writer) pair gives: its own problems and the answers of the pairs it
    checked, shared rather than copied (a named type met again reuses its pair's answer)."""

    parts: list[Problem | Found]

    @property
    def compatible(self) -> bool:
        return not self.parts


COMPATIBLE = Found([])


def _found(*parts: Problem | Found) -> Found:
    kept = [part for part in parts if isinstance(part, Problem) or part.parts]
    return Found(kept) if kept else COMPATIBLE


def _problem(
    kind: SchemaIncompatibilityType, message: str, location: list[str], *tokens: str
) -> Problem:
    """``location`` and ``tokens`` as Avro writes a location: ``/`` alone or ``/fields/0/type``;
    a message longer than MAX_MESSAGE_LENGTH is cut there."""
    if len(message) > MAX_MESSAGE_LENGTH:
        message = message[:MAX_MESSAGE_LENGTH] + "..."
    return Problem(kind, message, "/" + "/".join([*location[1:], *tokens]))


# stands for the problems found beyond MAX_PROBLEMS
_OVERFLOW = Problem(SchemaIncompatibilityType.type_mismatch, "", "")


class Checker:
    """The avro package's reader-writer check with its verdicts, in linear time and memory.

    Each problem is kept with its own kind, message and location (the avro package merges them
    into three separate sets, so a message cannot be told its location), and a pair's answer
    holds those of the pairs it checked instead of copying them. The avro package's quadratic
    costs are gone: its memo hashes a pair as ``id(reader) ^ id(writer)``, which collides for
    most pairs of a wide record's fields; its record check rebuilds the writer's name-to-field
    dict for every reader field; a reader union tries every branch for each writer branch.
    Here the memo is keyed by both ids, each writer record's dict is built once, and a reader
    union tries only the branches that can match: for a named writer, those of its type and name
    (or with an alias, as the original's name check allows); for another, the unnamed ones. The
    original finds every other branch incompatible (a name or type mismatch) anyway. Messages
    are worded as Avro Java words them, which Confluent reports.
    """

    def __init__(self) -> None:
        self._memo: dict[tuple[int, int], Found | None] = {}  # None: being checked
        self._fields: dict[int, dict[str, avro.schema.Field]] = {}
        self._branches: dict[int, Branches] = {}
        self._symbols: dict[int, tuple[frozenset[str], list[str]]] = {}
        self._problems = 0
        self._checks = 0
        self._trying = 0  # how deep in checks whose problems are not reported

    def problems(
        self, reader: avro.schema.Schema, writer: avro.schema.Schema
    ) -> tuple[list[Problem], bool]:
        """Why ``reader`` cannot read what ``writer`` wrote (empty when it can), each problem once
        in the order Avro Java lists them, at most MAX_PROBLEMS; and whether there were more."""
        found = _flatten(self.check(reader, writer))
        listed = [problem for problem in found if problem is not _OVERFLOW]
        return listed[:MAX_PROBLEMS], len(listed[:MAX_PROBLEMS]) < len(found)

    def check(
        self,
        reader: avro.schema.Schema,
        writer: avro.schema.Schema,
        token: str = "/",
        location: list[str] | None = None,
    ) -> Found:
        pair = (id(reader), id(writer))
        if pair in self._memo:
            # a recursive type is assumed compatible while it is being checked, as Avro does
            return self._memo[pair] or COMPATIBLE
        self._checks += 1
        if self._checks > MAX_CHECKS:
            raise SchemaTooLarge(
                f"Schema too large: checking its compatibility takes more than {MAX_CHECKS} "
                "comparisons of one type with another"
            )
        self._memo[pair] = None
        found = self._calculate(reader, writer, [*(location or []), token])
        if found.parts:
            found = self._bounded(found)
        self._memo[pair] = found
        return found

    def _calculate(
        self, reader: avro.schema.Schema, writer: avro.schema.Schema, location: list[str]
    ) -> Found:
        if reader.type == writer.type:
            return self._same_type(reader, writer, location)
        if isinstance(writer, avro.schema.UnionSchema):
            return _found(*(self.check(reader, branch) for branch in writer.schemas))
        if isinstance(reader, avro.schema.UnionSchema):
            if any(self._reads(branch, writer) for branch in self._candidates(reader, writer)):
                return COMPATIBLE
            message = f"reader union lacking writer type: {writer.type.upper()}"
            return _found(
                _problem(SchemaIncompatibilityType.missing_union_branch, message, location)
            )
        if writer.type in _PROMOTIONS.get(reader.type, ()):
            return COMPATIBLE
        return _found(_type_mismatch(reader, writer, location))

    def _reads(self, reader: avro.schema.Schema, writer: avro.schema.Schema) -> bool:
        """Whether ``reader`` reads ``writer``, where only that is reported, not why."""
        self._trying += 1
        try:
            return self.check(reader, writer).compatible
        finally:
            self._trying -= 1

    def _bounded(self, found: Found) -> Found:
        """``found`` with its own problems past the first MAX_PROBLEMS of the check replaced by
        one marker, so that the verdict stands and memory stays bounded. Those of pairs checked
        only for their verdict (union branches) are not counted, as they are not reported (unless
        the pair is met again elsewhere, which ``problems`` bounds)."""
        if self._trying:
            return found
        own = sum(isinstance(part, Problem) for part in found.parts)
        self._problems += own
        if not own or self._problems <= MAX_PROBLEMS:
            return found
        return Found([*(part for part in found.parts if isinstance(part, Found)), _OVERFLOW])

    def _same_type(
        self, reader: avro.schema.Schema, writer: avro.schema.Schema, location: list[str]
    ) -> Found:
        if isinstance(reader, avro.schema.ArraySchema):
            assert isinstance(writer, avro.schema.ArraySchema)
            return self.check(reader.items, writer.items, "items", location)
        if isinstance(reader, avro.schema.MapSchema):
            assert isinstance(writer, avro.schema.MapSchema)
            return self.check(reader.values, writer.values, "values", location)
        if isinstance(reader, avro.schema.UnionSchema):
            assert isinstance(writer, avro.schema.UnionSchema)
            return _found(*self._missing_branches(reader, writer, location))
        if not isinstance(reader, avro.schema.NamedSchema):
            return COMPATIBLE  # a primitive type
        assert isinstance(writer, avro.schema.NamedSchema)
        named = _name_problems(reader, writer, location)
        if isinstance(reader, avro.schema.FixedSchema):
            assert isinstance(writer, avro.schema.FixedSchema)
            return _found(*named, *_size_problems(reader, writer, location))
        if isinstance(reader, avro.schema.EnumSchema):
            assert isinstance(writer, avro.schema.EnumSchema)
            return _found(*named, *self._symbol_problems(reader, writer, location))
        assert isinstance(reader, avro.schema.RecordSchema)
        assert isinstance(writer, avro.schema.RecordSchema)
        return _found(*named, *self._field_results(reader, writer, location))

    def _symbol_problems(
        self, reader: avro.schema.EnumSchema, writer: avro.schema.EnumSchema, location: list[str]
    ) -> list[Problem]:
        """Writer symbols the reader lacks, listed sorted as a Java TreeSet prints them, in time
        proportional to the reader's symbols and the message, not the writer's symbols."""
        readable, _ = self._symbols_of(reader)
        written, in_order = self._symbols_of(writer)
        if len(written) <= len(readable) and written <= readable:
            return []
        default = reader.props.get("default")
        if default and default in readable:
            return []
        missing: list[str] = []
        length = 0
        for symbol in in_order:
            if symbol not in readable:
                missing.append(symbol)
                length += len(symbol) + 2
                if length > MAX_MESSAGE_LENGTH:
                    break  # _problem cuts the message there
        message = "[" + ", ".join(missing) + "]"
        kind = SchemaIncompatibilityType.missing_enum_symbols
        return [_problem(kind, message, location, "symbols")]

    def _symbols_of(self, enum: avro.schema.EnumSchema) -> tuple[frozenset[str], list[str]]:
        known = self._symbols.get(id(enum))
        if known is None:
            known = self._symbols[id(enum)] = (frozenset(enum.symbols), sorted(enum.symbols))
        return known

    def _missing_branches(
        self, reader: avro.schema.UnionSchema, writer: avro.schema.UnionSchema, location: list[str]
    ) -> Iterator[Problem]:
        for i, branch in enumerate(writer.schemas):
            if not self._reads(reader, branch):
                message = f"reader union lacking writer type: {branch.type.upper()}"
                kind = SchemaIncompatibilityType.missing_union_branch
                yield _problem(kind, message, location, str(i))

    def _field_results(
        self,
        reader: avro.schema.RecordSchema,
        writer: avro.schema.RecordSchema,
        location: list[str],
    ) -> Iterator[Problem | Found]:
        """The avro package's record check, field by field: nothing for a missing field with a
        default."""
        by_name = self._fields.get(id(writer))
        if by_name is None:
            by_name = self._fields[id(writer)] = {field.name: field for field in writer.fields}
        for i, field in enumerate(reader.fields):
            where = [*location, "fields", str(i)]
            found = _writer_field(by_name, field)
            if found is not None:
                yield self.check(field.type, found.type, "type", where)
            elif field.has_default:
                continue
            elif field.type.type == "enum" and field.type.props.get("default"):
                # the avro package reads a field missing from the writer through an enum's
                # default this way; kept for the same answers
                yield self.check(field.type, writer, "type", where)
            else:
                kind = SchemaIncompatibilityType.reader_field_missing_default_value
                yield _problem(kind, field.name, where)

    def _candidates(
        self, reader: avro.schema.UnionSchema, writer: avro.schema.Schema
    ) -> Iterator[avro.schema.Schema]:
        """The reader branches that can read ``writer``, in the union's order, found in an index
        built once per union and read lazily (the first match usually ends the search)."""
        index = self._branches.get(id(reader))
        if index is None:
            index = self._branches[id(reader)] = _index(reader)
        if not isinstance(writer, avro.schema.NamedSchema):
            return (branch for _, branch in index.get(_UNNAMED, ()))
        by_name = index.get(("name", _shape(writer), writer.name), [])
        by_alias = index.get(("alias", _shape(writer), writer.fullname), [])
        if not by_alias:
            return (branch for _, branch in by_name)
        return _in_order(heapq.merge(by_name, by_alias, key=itemgetter(0)))


def _in_order(
    branches: Iterable[tuple[int, avro.schema.Schema]],
) -> Iterator[avro.schema.Schema]:
    """Positioned branches in order, each once (one may match by name and by alias)."""
    last = -1
    for position, branch in branches:
        if position != last:
            last = position
            yield branch


def _index(union: avro.schema.UnionSchema) -> Branches:
    """A union's branches with their positions: named ones by shape and name and by shape and
    each alias, the others together."""
    index: Branches = {}
    for position, branch in enumerate(union.schemas):
        if not isinstance(branch, avro.schema.NamedSchema):
            index.setdefault(("unnamed", "", ""), []).append((position, branch))
            continue
        shape = _shape(branch)
        index.setdefault(("name", shape, branch.name), []).append((position, branch))
        aliases = branch.props.get("aliases")
        for alias in set(aliases) if isinstance(aliases, list) else ():
            index.setdefault(("alias", shape, alias), []).append((position, branch))
    return index


def _shape(named: avro.schema.NamedSchema) -> str:
    """A named type's type, and a fixed type's size: a fixed branch of another size cannot read
    the writer's, so many same-named ones of other sizes are not tried one by one."""
    if isinstance(named, avro.schema.FixedSchema):
        return f"fixed/{named.size}"
    return str(named.type)


def _flatten(found: Found) -> list[Problem]:
    """The problems under ``found`` in order, each answer and each problem once: Avro Java
    repeats a reused pair's problems at every reuse, which nested named types multiply."""
    seen: set[int] = set()
    problems: dict[Problem, None] = {}
    stack: list[Problem | Found] = [found]
    while stack:
        part = stack.pop()
        if isinstance(part, Problem):
            problems.setdefault(part)
        elif id(part) not in seen:
            seen.add(id(part))
            stack.extend(reversed(part.parts))
    return list(problems)


def _type_mismatch(
    reader: avro.schema.Schema, writer: avro.schema.Schema, location: list[str]
) -> Problem:
    message = (
        f"reader type: {reader.type.upper()} not compatible with writer type: {writer.type.upper()}"
    )
    return _problem(SchemaIncompatibilityType.type_mismatch, message, location)


def _name_problems(
    reader: avro.schema.NamedSchema, writer: avro.schema.NamedSchema, location: list[str]
) -> list[Problem]:
    if schema_name_equals(reader, writer):
        return []
    message = f"expected: {writer.fullname}"
    return [_problem(SchemaIncompatibilityType.name_mismatch, message, location, "name")]


def _size_problems(
    reader: avro.schema.FixedSchema, writer: avro.schema.FixedSchema, location: list[str]
) -> list[Problem]:
    if reader.size == writer.size:
        return []
    message = f"expected: {writer.size}, found: {reader.size}"
    return [_problem(SchemaIncompatibilityType.fixed_size_mismatch, message, location, "size")]


def _writer_field(
    by_name: dict[str, avro.schema.Field], field: avro.schema.Field
) -> avro.schema.Field | None:
    """The avro package's ``lookup_writer_field`` over a prepared dict: by name, then alias."""
    if direct := by_name.get(field.name):
        return direct
    aliases: Any = field.props.get("aliases")
    if aliases is None or not isinstance(aliases, Iterable):
        return None
    for alias in aliases:
        if (found := by_name.get(alias)) is not None:
            return found
    return None


# Confluent's descriptions (io.confluent.kafka.schemaregistry.avro.Difference), with the
# roles ("new", "old") of the reader and the writer
_DESCRIPTIONS = {
    SchemaIncompatibilityType.fixed_size_mismatch: (
        "The size of FIXED type field at path '{path}' in the {reader} schema does not match "
        "with the {writer} schema"
    ),
    SchemaIncompatibilityType.type_mismatch: (
        "The type (path '{path}') of a field in the {reader} schema does not match with the "
        "{writer} schema"
    ),
    SchemaIncompatibilityType.name_mismatch: "The name of the schema has changed (path '{path}')",
    SchemaIncompatibilityType.missing_enum_symbols: (
        "The {reader} schema is missing enum symbols '{message}' at path '{path}' in the "
        "{writer} schema"
    ),
    SchemaIncompatibilityType.missing_union_branch: (
        "The {reader} schema is missing a type inside a union field at path '{path}' in the "
        "{writer} schema"
    ),
    SchemaIncompatibilityType.reader_field_missing_default_value: (
        "The field '{message}' at path '{path}' in the {reader} schema has no default value and "
        "is missing in the {writer} schema"
    ),
}


def describe(problem: Problem, reader: str, writer: str) -> str:
    """``problem`` as one of Confluent's messages, ``reader`` and ``writer`` being the roles
    ("new" or "old") of the schemas."""
    description = _DESCRIPTIONS[problem.kind].format(
        path=problem.location, message=problem.message, reader=reader, writer=writer
    )
    return (
        f"{{errorType:'{problem.kind.name.upper()}', description:'{description}', "
        f"additionalInfo:'{problem.message}'}}"
    )


def read_problems(
    reader: avro.schema.Schema, writer: avro.schema.Schema, roles: tuple[str, str]
) -> list[str]:
    """Why ``reader`` cannot read data written with ``writer``, one message per problem (at most
    MAX_PROBLEMS, then a note that there were more); empty when it can. ``roles`` names the
    reader and the writer in the messages."""
    listed, more = Checker().problems(reader, writer)
    messages = [describe(problem, *roles) for problem in listed]
    return [*messages, TOO_MANY.format(MAX_PROBLEMS)] if more else messages


def problems_against(
    level: Compatibility, new: avro.schema.Schema, old: avro.schema.Schema
) -> list[str]:
    """Why ``new`` may not follow ``old`` under ``level``, ignoring transitivity; for FULL the
    old schema reads first, as in Confluent's SchemaValidatorBuilder.mutualReadStrategy."""
    found: list[str] = []
    if level in _FORWARD:
        found += read_problems(reader=old, writer=new, roles=("old", "new"))
    if level in _BACKWARD:
        found += read_problems(reader=new, writer=old, roles=("new", "old"))
    return found


def problems(
    level: Compatibility, new: avro.schema.Schema, live: Sequence[avro.schema.Schema]
) -> list[str]:
    """Why ``new`` may not follow the ``live`` versions (oldest first) under ``level``: the
    problems with the newest version that has any, as Confluent's CompatibilityChecker checks
    newest first and stops at the first incompatible one."""
    targets = live if level in _TRANSITIVE else live[-1:]
    for old in reversed(targets):
        if found := problems_against(level, new, old):
            return found
    return []
