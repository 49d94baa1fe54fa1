"""Unit tests of the pure parts: record format, database replay, canonical form, compatibility."""

from __future__ import annotations

import pytest

from shop.registry import compatibility, records
from shop.registry.database import Database, SchemaVersion
from shop.registry.errors import InvalidSchema, SchemaNotFound
from shop.registry.schemas import parse
from shop.registry.typedefs import Compatibility, SchemaId, Subject, Version

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
