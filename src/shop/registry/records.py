"""The ``_schemas`` record format, as Confluent and Karapace write it.

Keys are compact JSON with a fixed field order, so that compaction replaces older records of the
same key: ``{"keytype":"SCHEMA","subject":s,"version":v,"magic":1}``,
``{"keytype":"CONFIG","subject":s_or_null,"magic":0}``,
``{"keytype":"DELETE_SUBJECT","subject":s,"magic":0}`` and ``{"keytype":"NOOP","magic":0}``.
A null value (tombstone) deletes the key: a permanently deleted version or a removed config.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from shop.registry.database import Database, SchemaVersion
from shop.registry.typedefs import Compatibility, SchemaId, Subject, Version


class Record(NamedTuple):
    key: bytes
    value: bytes | None


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def schema_key(subject: Subject, version: Version) -> bytes:
    return _dump({"keytype": "SCHEMA", "subject": subject, "version": version, "magic": 1})


def schema_record(entry: SchemaVersion) -> Record:
    value = {
        "subject": entry.subject,
        "version": entry.version,
        "id": entry.schema_id,
        "schema": entry.schema,
        "deleted": entry.deleted,
    }
    return Record(schema_key(entry.subject, entry.version), _dump(value))


def schema_tombstone(subject: Subject, version: Version) -> Record:
    return Record(schema_key(subject, version), None)


def config_record(subject: Subject | None, level: Compatibility | None) -> Record:
    key = _dump({"keytype": "CONFIG", "subject": subject, "magic": 0})
    return Record(key, None if level is None else _dump({"compatibilityLevel": level.value}))


def delete_subject_record(subject: Subject, up_to: Version) -> Record:
    key = _dump({"keytype": "DELETE_SUBJECT", "subject": subject, "magic": 0})
    return Record(key, _dump({"subject": subject, "version": up_to}))


def apply(database: Database, key: bytes, value: bytes | None) -> None:
    """Apply one ``_schemas`` record; ``ValueError``, ``KeyError`` or ``TypeError`` if malformed."""
    parsed_key = json.loads(key)
    keytype = parsed_key["keytype"]
    data = None if value is None else json.loads(value)
    if keytype == "SCHEMA":
        subject, version = Subject(parsed_key["subject"]), Version(int(parsed_key["version"]))
        if data is None:
            database.remove_version(subject, version)
            return
        entry = SchemaVersion(
            subject,
            version,
            SchemaId(int(data["id"])),
            str(data["schema"]),
            bool(data.get("deleted")),
        )
        database.put_version(entry)
    elif keytype == "CONFIG":
        subject_or_none = parsed_key.get("subject")
        level = None if data is None else Compatibility(data["compatibilityLevel"])
        database.put_config(None if subject_or_none is None else Subject(subject_or_none), level)
    elif keytype == "DELETE_SUBJECT" and data is not None:
        database.soft_delete_subject(Subject(data["subject"]), Version(int(data["version"])))
    elif keytype not in ("NOOP", "DELETE_SUBJECT"):
        raise ValueError(f"unknown keytype {keytype!r}")
