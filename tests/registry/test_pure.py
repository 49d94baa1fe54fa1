"""Unit tests of the pure parts: record format, database replay, canonical form, compatibility."""

from __future__ import annotations

import json
from typing import Any

import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker

from shop.registry import compatibility, records
from shop.registry.database import Database, SchemaVersion
from shop.registry.errors import InvalidSchema, SchemaNotFound
from shop.registry.schemas import parse
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


def test_full_checks_both_directions() -> None:
    """FULL reports a field added without default; NONE reports nothing."""
    old = parse('{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}').avro
    new = parse(
        '{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"int"}]}'
    ).avro
    assert compatibility.problems(Compatibility.FORWARD, new, [old]) == []
    assert len(compatibility.problems(Compatibility.FULL, new, [old])) == 1
    assert compatibility.problems(Compatibility.NONE, new, [old]) == []


def _answers(
    checker: ReaderWriterCompatibilityChecker, reader: Any, writer: Any
) -> tuple[Any, ...]:
    result = checker.get_compatibility(
        parse(json.dumps(reader)).avro, parse(json.dumps(writer)).avro
    )
    return (
        result.compatibility,
        sorted(kind.name for kind in result.incompatibilities),
        sorted(result.messages),
        sorted(result.locations),
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
]


@pytest.mark.parametrize(("reader", "writer"), CHECKED_PAIRS)
def test_checker_answers_as_the_avro_package_does(reader: Any, writer: Any) -> None:
    """The linear checker gives the avro package's verdict, messages and locations."""
    for first, second in ((reader, writer), (writer, reader)):
        expected = _answers(ReaderWriterCompatibilityChecker(), first, second)
        assert _answers(compatibility.Checker(), first, second) == expected
