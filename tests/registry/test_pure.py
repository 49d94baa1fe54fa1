"""Unit tests of the pure parts: record format, database replay, canonical form, compatibility."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from shop.registry import compatibility, records, schemas
from shop.registry.database import Database, SchemaVersion
from shop.registry.errors import ErrorCode, InvalidSchema, SchemaNotFound, SchemaTooLarge
from shop.registry.schemas import identity, parse, parse_canonical
from shop.registry.typedefs import Compatibility, SchemaId, Subject, Version
from tests.registry.conftest import record

S = Subject("s-value")


def test_keys_are_compact_with_confluent_field_order() -> None:
    """Key bytes are stable, so compaction replaces older records of the same key."""
    entry = SchemaVersion(S, Version(3), SchemaId(7), '"string"')
    assert (
        records.schema_record(entry).key
        == b'{"keytype":"SCHEMA","subject":"s-value","version":3,"magic":1}'
    )
    assert records.schema_record(entry).value == (
        b'{"subject":"s-value","version":3,"id":7,"schema":"\\"string\\"","deleted":false}'
    )
    assert records.config_record(None, Compatibility.FULL) == records.Record(
        b'{"keytype":"CONFIG","subject":null,"magic":0}', b'{"compatibilityLevel":"FULL"}'
    )
    assert records.delete_subject_record(S, Version(2)).key == (
        b'{"keytype":"DELETE_SUBJECT","subject":"s-value","magic":0}'
    )


def test_replay_applies_schema_delete_and_tombstone_records() -> None:
    """Replaying records rebuilds versions, soft deletes, tombstones and the next id."""
    db = Database()
    for version, schema_id in ((1, 1), (2, 5)):
        entry = SchemaVersion(S, Version(version), SchemaId(schema_id), f'"v{version}"')
        records.apply(db, *records.schema_record(entry))
    records.apply(db, *records.delete_subject_record(S, Version(1)))
    assert [entry.version for entry in db.versions(S)] == [2]
    records.apply(db, *records.schema_tombstone(S, Version(1)))
    assert [entry.version for entry in db.versions(S, deleted=True)] == [2]
    assert db.next_id() == 6 and db.next_version(S) == 3
    with pytest.raises(SchemaNotFound):
        db.schema(SchemaId(1))
    records.apply(db, b'{"keytype":"NOOP","magic":0}', None)


def test_canonical_form_ignores_whitespace_and_shorthand() -> None:
    """Two spellings of one schema have one canonical text; invalid Avro is InvalidSchema."""
    assert parse('{"type": "string"}').canonical == parse('"string"').canonical == '"string"'
    with pytest.raises(InvalidSchema):
        parse('{"type": "record", "name": "R"}')


def wide(fields: int) -> str:
    """A record of ``fields`` int fields."""
    return json.dumps(record("Wide", *((f"f{i}", "int") for i in range(fields))))


def test_a_schema_of_more_fields_than_the_limit_is_too_large() -> None:
    """Record fields and union branches count towards MAX_FIELDS; one more is 42209."""
    assert schemas.count_fields(json.loads(wide(3))) == 3
    union = ["null", record("In", ("a", "int"), ("b", ["null", "int"]))]
    assert schemas.count_fields([union, {"type": "array", "items": union}]) == 2 + 2 * 6
    parse(wide(schemas.MAX_FIELDS))
    with pytest.raises(SchemaTooLarge) as raised:
        parse(wide(schemas.MAX_FIELDS + 1))
    assert (raised.value.status, raised.value.code) == (422, ErrorCode.SCHEMA_TOO_LARGE)
    assert ErrorCode.SCHEMA_TOO_LARGE == 42209
    assert f"{schemas.MAX_FIELDS + 1} record fields" in raised.value.message


def test_a_text_longer_than_the_limit_is_too_large() -> None:
    """The text is measured before it is read, its canonical form as the record will carry it."""
    with pytest.raises(SchemaTooLarge):
        parse(" " * schemas.MAX_TEXT_LENGTH + '"int"')
    quotes = json.dumps(record("R", ("a", "int"), doc='"' * (schemas.MAX_STORED_BYTES // 2)))
    assert len(quotes) < schemas.MAX_TEXT_LENGTH
    with pytest.raises(SchemaTooLarge, match="bytes as stored"):
        parse(quotes)  # each quote takes two bytes once escaped in the _schemas record


def test_limits_keep_a_schema_within_one_schemas_record() -> None:
    """The largest storable schema, with the longest subject, fits the producer's 1 MiB."""
    subject = Subject("s" * 8190)
    canonical = "x" * schemas.MAX_STORED_BYTES
    entry = SchemaVersion(subject, Version(2**31 - 1), SchemaId(2**31 - 1), canonical)
    key, value = records.schema_record(entry)
    assert len(key) + len(value or b"") + 100 < 1024 * 1024


JAVA_ORDER = [
    # record: type, name, namespace, doc, fields, other properties, aliases
    (
        {"aliases": ["Q"], "x": 1, "fields": [], "doc": "d", "namespace": "n", "name": "R",
         "type": "record"},
        '{"type":"record","name":"R","namespace":"n","doc":"d","fields":[],"x":1,"aliases":["Q"]}',
    ),
    # field: name, type, doc, default, order (not "ascending"), aliases, other properties
    (
        record("R", ("a", "int"), x=1, aliases=["b"], order="ascending", default=1, doc="d"),
        '{"type":"record","name":"R","fields":[{"name":"a","type":"int","doc":"d","default":1,'
        '"aliases":["b"],"x":1}]}',
    ),
    (
        record("R", ("a", "int"), order="descending"),
        '{"type":"record","name":"R","fields":[{"name":"a","type":"int","order":"descending"}]}',
    ),
    # enum: type, name, namespace, doc, symbols, default, other properties, aliases
    (
        {"aliases": ["F"], "x": 1, "default": "A", "symbols": ["A"], "doc": "d", "name": "E",
         "type": "enum"},
        '{"type":"enum","name":"E","doc":"d","symbols":["A"],"default":"A","x":1,"aliases":["F"]}',
    ),
    # fixed: type, name, namespace, doc, size, other properties, aliases
    (
        {"aliases": ["G"], "x": 1, "size": 4, "name": "F", "type": "fixed"},
        '{"type":"fixed","name":"F","size":4,"x":1,"aliases":["G"]}',
    ),
    # array and map: type, items or values, other properties
    ({"x": 1, "items": "int", "type": "array"}, '{"type":"array","items":"int","x":1}'),
    ({"x": 1, "values": "int", "type": "map"}, '{"type":"map","values":"int","x":1}'),
    # a logical type: type, then its properties as written
    (
        {"logicalType": "timestamp-millis", "type": "long"},
        '{"type":"long","logicalType":"timestamp-millis"}',
    ),
    (
        {"scale": 2, "precision": 4, "logicalType": "decimal", "type": "bytes"},
        '{"type":"bytes","scale":2,"precision":4,"logicalType":"decimal"}',
    ),
    # nested: an array of maps of a record, in a union; a default keeps its own key order
    (
        ["null", {"items": {"values": record("N", ("b", "int"), default=1), "type": "map"},
                  "type": "array"}],
        '["null",{"type":"array","items":{"type":"map","values":{"type":"record","name":"N",'
        '"fields":[{"name":"b","type":"int","default":1}]}}}]',
    ),
    (
        record("D", ("r", record("In", ("z", "int"), ("a", "int"))), default={"z": 1, "a": 2}),
        '{"type":"record","name":"D","fields":[{"name":"r","type":{"type":"record","name":"In",'
        '"fields":[{"name":"z","type":"int"},{"name":"a","type":"int"}]},"default":{"z":1,"a":2}}]}',
    ),
    # names relative to the enclosing namespace, as Name.writeName and getQualified write them
    (
        {"type": "record", "name": "n.R", "aliases": ["n.Old", "o.Other"], "fields": [
            {"name": "a", "type": {"type": "enum", "name": "E", "symbols": ["A"]}},
            {"name": "b", "type": {"type": "fixed", "name": "o.F", "size": 1}},
            {"name": "c", "type": "n.E"},
            {"name": "d", "type": "o.F"},
            {"name": "f", "type": {"type": "fixed", "name": "int", "size": 2}},
            {"name": "g", "type": "n.int"},
        ]},
        '{"type":"record","name":"R","namespace":"n","fields":['
        '{"name":"a","type":{"type":"enum","name":"E","symbols":["A"]}},'
        '{"name":"b","type":{"type":"fixed","name":"F","namespace":"o","size":1}},'
        '{"name":"c","type":"E"},{"name":"d","type":"o.F"},'
        '{"name":"f","type":{"type":"fixed","name":"int","size":2}},{"name":"g","type":"n.int"}],'
        '"aliases":["Old","o.Other"]}',
    ),
]  # fmt: skip


@pytest.mark.parametrize(("schema", "text"), JAVA_ORDER)
def test_canonical_text_has_avro_javas_key_order(schema: Any, text: str) -> None:
    """Canonical text has the key order of Avro Java's Schema.toString(), which Confluent stores;
    read again, it gives itself back."""
    assert parse(json.dumps(schema)).canonical == text
    assert schemas.canonical_text(parse_canonical(text).avro) == text


OLD_ORDER = (
    '{"type":"record","name":"R","namespace":"n","fields":[{"type":"int","name":"a","default":1,'
    '"order":"ascending"},{"type":{"type":"enum","name":"E","symbols":["A"]},"name":"e"}]}'
)


def test_old_and_new_order_have_one_identity() -> None:
    """A text stored in the older key order has the identity of today's canonical text."""
    new = parse(OLD_ORDER).canonical
    assert new != OLD_ORDER
    assert identity(OLD_ORDER) == identity(new)
    assert identity("not a schema") != identity("not a schema either")


# The last case names a fixed type "int" inside a namespace, where Java writes some names in full
# to tell them from the primitive: identity, which reads no schema, does not see that. Such a
# schema stored before today is registered again as a new version rather than found.
@pytest.mark.parametrize(("schema", "text"), JAVA_ORDER[:-1])
def test_what_older_registries_stored_has_todays_identity(schema: Any, text: str) -> None:
    """The text this registry stored before (the avro package's to_json, full names) and today's
    canonical text are one schema to identity."""
    stored = json.dumps(avro.schema.parse(json.dumps(schema)).to_json(), separators=(",", ":"))
    assert identity(stored) == identity(text)


LAX = '{"type":"record","name":"R","namespace":"com.x-y","fields":[{"name":"a","type":"int"}]}'


def test_stored_schemas_are_not_validated() -> None:
    """A stored schema parses whatever its names and defaults, as Confluent reads stored ones."""
    text = json.dumps(
        record("x.R-1", ("b-c", {"type": "fixed", "name": "F-2", "size": 1}), default=7)
    )
    assert parse_canonical(text).avro.fullname == "x.R-1"
    enum = {"type": "enum", "name": "E-1", "symbols": ["a-b"], "default": "zz"}
    assert parse_canonical(json.dumps(enum)).avro.fullname == "E-1"
    # (the avro package checks the symbols of an enum inside a record regardless)
    assert parse_canonical(LAX).avro.fullname == "com.x-y.R"


def test_lookups_check_simple_names_but_not_namespaces() -> None:
    """As Confluent checks a schema that is not new: Unicode simple names, any namespace."""
    assert parse(LAX, new=False).canonical == LAX
    assert parse(json.dumps(record("Ré", ("é1", "int"))), new=False)
    for bad in (
        record("R", ("a-b", "int")),
        record("R-1", ("a", "int")),
        {"type": "enum", "name": "E", "symbols": ["1A"]},
        {"type": "enum", "name": "E", "symbols": ["A"], "default": "B"},
    ):
        with pytest.raises(InvalidSchema):
            parse(json.dumps(bad), new=False)


def test_new_schemas_check_names_and_namespaces() -> None:
    """A schema to register is validated as Confluent validates new ones: ASCII names throughout."""
    for bad in (LAX, json.dumps(record("R", ("é", "int"))), json.dumps(record("Ré", ("a", "int")))):
        with pytest.raises(InvalidSchema):
            parse(bad)


def test_full_checks_both_directions() -> None:
    """FULL reports a field added without default; NONE reports nothing."""
    old = parse('{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}').avro
    new = parse(
        '{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}'
    ).avro
    assert compatibility.problems(Compatibility.FORWARD, new, [old]) == []
    assert len(compatibility.problems(Compatibility.FULL, new, [old])) == 1
    assert compatibility.problems(Compatibility.NONE, new, [old]) == []


def _java_wording(message: str) -> str:
    """An avro package message as Avro Java words it: upper-case types, a sorted symbol list."""
    if message.startswith("{'"):
        return "[" + ", ".join(sorted(ast.literal_eval(message))) + "]"
    if match := re.fullmatch(r"reader type: (\w+) not compatible with writer type: (\w+)", message):
        reader, writer = match.groups()
        return f"reader type: {reader.upper()} not compatible with writer type: {writer.upper()}"
    if match := re.fullmatch(r"reader union lacking writer type:? (\w+)", message):
        return f"reader union lacking writer type: {match.group(1).upper()}"
    return message


def _answers(reader: Any, writer: Any) -> tuple[Any, ...]:
    """The avro package's answer, and ours in the same terms: verdict, kinds, messages and
    locations as sets (the package merges a compatible part's location "/" into its set)."""
    reader, writer = parse(json.dumps(reader)).avro, parse(json.dumps(writer)).avro
    theirs = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    ours, more = compatibility.Checker().problems(reader, writer)
    assert not more
    locations = {problem.location for problem in ours}
    return (
        theirs.compatibility is SchemaCompatibilityType.compatible,
        {kind for kind in theirs.incompatibilities},
        {_java_wording(message) for message in theirs.messages},
        theirs.locations - {"/"} <= locations <= theirs.locations,
    ), (
        not ours,
        {problem.kind for problem in ours},
        {problem.message for problem in ours},
        True,
    )


ENUM = {"type": "enum", "name": "E", "symbols": ["A", "B"]}
LIST = record("L", ("next", ["null", "L"]))
CHECKED_PAIRS = [
    (["null", "string", ENUM], ["string", "int"]),
    (["null", ENUM], {**ENUM, "symbols": ["A"]}),
    (
        [{"type": "fixed", "name": "F", "size": 2, "aliases": ["G"]}],
        {"type": "fixed", "name": "G", "size": 2},
    ),
    (record("R", ("a", "long"), aliases=["b"]), record("R", ("b", "int"), ("c", "int"))),
    (
        record("R", ("a", "int"), ("e", {**ENUM, "default": "A"}), ("d", "int"), default=1),
        record("S", ("a", "string")),
    ),
    (LIST, {**LIST, "fields": [*LIST["fields"], {"name": "v", "type": "int"}]}),
    ({"type": "fixed", "name": "F", "size": 2}, {"type": "fixed", "name": "G", "size": 3}),
    (
        [{"type": "fixed", "name": f"n{i}.F", "size": 1, "aliases": ["m.F"]} for i in range(3)],
        [{"type": "fixed", "name": f"{space}.F", "size": 2} for space in ("n1", "m", "x")],
    ),
]


@pytest.mark.parametrize(("reader", "writer"), CHECKED_PAIRS)
def test_checker_answers_as_the_avro_package_does(reader: Any, writer: Any) -> None:
    """The linear checker gives the avro package's verdict, kinds, messages and locations."""
    for first, second in ((reader, writer), (writer, reader)):
        theirs, ours = _answers(first, second)
        assert ours == theirs


def _messages(level: Compatibility, new: Any, old: Any) -> list[str]:
    return compatibility.problems(level, parse(json.dumps(new)).avro, [parse(json.dumps(old)).avro])


def test_each_incompatibility_is_one_confluent_message() -> None:
    """Each message pairs one kind with its own description, path and detail, worded as
    Confluent's Difference with the new and old schemas in their roles."""
    old = record("R", ("a", {"type": "fixed", "name": "F", "size": 2}), ("b", "int"))
    new = record("R", ("a", {"type": "fixed", "name": "G", "size": 3}), ("c", "string"))
    assert _messages(Compatibility.FULL, new, old) == [
        # FULL checks the old schema reading the new one first, as Confluent does
        "{errorType:'NAME_MISMATCH', description:'The name of the schema has changed "
        "(path '/fields/0/type/name')', additionalInfo:'expected: G'}",
        "{errorType:'FIXED_SIZE_MISMATCH', description:'The size of FIXED type field at path "
        "'/fields/0/type/size' in the old schema does not match with the new schema', "
        "additionalInfo:'expected: 3, found: 2'}",
        "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'b' at path "
        "'/fields/1' in the old schema has no default value and is missing in the new schema', "
        "additionalInfo:'b'}",
        "{errorType:'NAME_MISMATCH', description:'The name of the schema has changed "
        "(path '/fields/0/type/name')', additionalInfo:'expected: F'}",
        "{errorType:'FIXED_SIZE_MISMATCH', description:'The size of FIXED type field at path "
        "'/fields/0/type/size' in the new schema does not match with the old schema', "
        "additionalInfo:'expected: 2, found: 3'}",
        "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'c' at path "
        "'/fields/1' in the new schema has no default value and is missing in the old schema', "
        "additionalInfo:'c'}",
    ]
    enum = {"type": "enum", "name": "E", "symbols": ["A"]}
    assert _messages(Compatibility.BACKWARD, enum, {**enum, "symbols": ["C", "A", "B"]}) == [
        "{errorType:'MISSING_ENUM_SYMBOLS', description:'The new schema is missing enum symbols "
        "'[B, C]' at path '/symbols' in the old schema', additionalInfo:'[B, C]'}",
    ]
    assert _messages(Compatibility.BACKWARD, ["null", "int"], ["string", "int"]) == [
        "{errorType:'MISSING_UNION_BRANCH', description:'The new schema is missing a type inside "
        "a union field at path '/0' in the old schema', "
        "additionalInfo:'reader union lacking writer type: STRING'}",
    ]
    assert _messages(Compatibility.BACKWARD, "int", "string") == [
        "{errorType:'TYPE_MISMATCH', description:'The type (path '/') of a field in the new schema "
        "does not match with the old schema', "
        "additionalInfo:'reader type: INT not compatible with writer type: STRING'}",
    ]


def test_answer_size_is_linear_in_the_incompatibilities() -> None:
    """N fields without defaults give N messages of about 200 bytes each, at any N."""
    sizes = {}
    for count in (1000, 3000):
        new = json.loads(wide(count))
        messages = _messages(Compatibility.BACKWARD, new, record("Wide"))
        assert len(messages) == count
        assert all(f"'f{i}'" in message for i, message in enumerate(messages))
        sizes[count] = sum(map(len, messages))
    assert sizes[1000] < 1000 * 200
    assert sizes[3000] < 3 * sizes[1000] * 1.05


def _nested(depth: int, leaf: tuple[str, str] | None) -> dict[str, Any]:
    """A record whose two fields share a record type, which has two fields of the next, down
    to ``depth``: 2**depth paths to the leaf record through its written-once definitions."""
    inner: dict[str, Any] = record(f"L{depth}", *([leaf] if leaf else []))
    for level in reversed(range(depth)):
        inner = record(f"L{level}", ("a", inner), ("b", f"L{level + 1}"))
    return inner


def test_a_reused_named_type_reports_its_problems_once() -> None:
    """A pair of named types met at 2**30 paths is reported once (Avro Java repeats it at each)."""
    messages = _messages(Compatibility.BACKWARD, _nested(30, ("x", "int")), _nested(30, None))
    assert len(messages) == 1 and "'x'" in messages[0]


def test_union_of_same_named_branches_matches_in_union_order() -> None:
    """A reader union of many fixed types named F reads each writer branch by name or alias."""
    union = [{"type": "fixed", "name": f"n{i}.F", "size": 1} for i in range(2000)]
    reader, writer = parse(json.dumps(union)).avro, parse(json.dumps(union[::-1])).avro
    assert compatibility.Checker().problems(reader, writer) == ([], False)
    sized = [{**branch, "size": 2} for branch in union[:3]]
    aliased = [{"type": "fixed", "name": "n9.G", "size": 2, "aliases": ["n1.F"]}]
    problems, _ = compatibility.Checker().problems(
        parse(json.dumps(union[:1000] + aliased)).avro, parse(json.dumps(sized)).avro
    )
    assert [problem.location for problem in problems] == ["/0", "/2"]


def test_an_answer_lists_at_most_max_problems_then_says_so() -> None:
    """A record type read against many writer types has fields times types problems: the answer
    lists MAX_PROBLEMS of them and a note, not all (Confluent would list every one)."""
    fields, uses = 400, 30
    inner = record("In", *((f"x{j}", "int") for j in range(fields)))
    new = record("R", ("g0", inner), *((f"g{i}", "In") for i in range(1, uses)))
    old = record("R", *((f"g{i}", record(f"n{i}.In")) for i in range(uses)))
    messages = _messages(Compatibility.BACKWARD, new, old)
    assert fields * uses > compatibility.MAX_PROBLEMS
    assert len(messages) == compatibility.MAX_PROBLEMS + 1
    assert messages[-1] == compatibility.TOO_MANY.format(compatibility.MAX_PROBLEMS)


def test_a_long_message_is_cut() -> None:
    """Missing enum symbols are listed sorted, up to MAX_MESSAGE_LENGTH characters."""
    symbols = [f"S{i:05}" for i in reversed(range(5000))]
    enum = {"type": "enum", "name": "E", "symbols": ["Z"]}
    checker = compatibility.Checker()
    (problem,), _ = checker.problems(
        parse(json.dumps(enum)).avro, parse(json.dumps({**enum, "symbols": symbols})).avro
    )
    assert problem.message.startswith("[S00000, S00001, ")
    assert len(problem.message) == compatibility.MAX_MESSAGE_LENGTH + len("...")


def test_transitive_answers_the_newest_incompatible_version() -> None:
    """As Confluent's CompatibilityChecker: newest version first, stopping at the first with
    problems."""
    versions = [record("R", ("a", "int")), record("R", ("b", "int")), record("R", ("a", "long"))]
    live = [parse(json.dumps(version)).avro for version in versions]
    new = parse(json.dumps(record("R", ("a", "int"), ("b", "int")))).avro
    newest, *_ = compatibility.problems(Compatibility.BACKWARD_TRANSITIVE, new, live)
    assert "TYPE_MISMATCH" in newest
    (second,) = compatibility.problems(Compatibility.BACKWARD_TRANSITIVE, new, live[:2])
    assert "The field 'a' at path '/fields/0'" in second


def test_failing_union_branches_do_not_use_up_the_listed_problems() -> None:
    """Branches tried and rejected for a writer type do not count towards MAX_PROBLEMS: each
    writer branch no reader branch reads is listed, up to MAX_PROBLEMS."""
    enums = [
        {"type": "enum", "name": "E", "namespace": f"n{i}", "symbols": ["A"]} for i in range(120)
    ]
    wider = [{**enum, "symbols": ["B"]} for enum in enums]
    messages = _messages(Compatibility.BACKWARD, enums, wider)
    assert compatibility.MAX_PROBLEMS < 120 * 120
    assert len(messages) == 120 and all("MISSING_UNION_BRANCH" in message for message in messages)
    many = compatibility.MAX_PROBLEMS  # branches (the most a schema may have)
    fixed = [{"type": "fixed", "name": "F", "namespace": f"n{i}", "size": 1} for i in range(many)]
    messages = _messages(Compatibility.BACKWARD, fixed, [{**one, "size": 2} for one in fixed])
    assert len(messages) == many and "MISSING_UNION_BRANCH" in messages[-1]


def test_a_check_comparing_too_many_types_is_too_large() -> None:
    """A reader union of same-named enums (n0.E, n1.E, ...) is compared branch by branch with
    the writer's, as Avro Java does; past MAX_CHECKS comparisons the check is refused (42209)
    rather than run for minutes."""

    def union_of(count: int, symbol: str) -> str:
        branches = [
            {"type": "enum", "name": "E", "namespace": f"n{i}", "symbols": [symbol]}
            for i in range(count)
        ]
        return json.dumps(
            {"type": "record", "name": "R", "fields": [{"name": "u", "type": branches}]}
        )

    count = 300  # 300 x 300 comparisons
    reader, writer = parse(union_of(count, "A")), parse(union_of(count, "B"))
    with pytest.raises(SchemaTooLarge):
        compatibility.problems(Compatibility.BACKWARD, reader.avro, [writer.avro])
    small = parse(union_of(20, "A")), parse(union_of(20, "B"))
    assert len(compatibility.problems(Compatibility.BACKWARD, small[0].avro, [small[1].avro])) == 20
