"""The registry's state in memory: subjects, versions, ids and configs. Pure: no I/O.

It changes only by applying ``_schemas`` records (``put_*``/``remove_*``/``soft_delete_subject``)
and answers queries, raising Confluent's not-found errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from shop.registry.errors import SchemaNotFound, SubjectNotFound, VersionNotFound
from shop.registry.guids import guid
from shop.registry.schemas import identity
from shop.registry.typedefs import DEFAULT_COMPATIBILITY, Compatibility, SchemaId, Subject, Version


@dataclass(frozen=True)
class SchemaVersion:
    """One version of a subject: the schema it holds, by id and canonical text."""

    subject: Subject
    version: Version
    schema_id: SchemaId
    schema: str
    deleted: bool = False

    @property
    def guid(self) -> str:
        return guid(self.schema)


class Database:
    def __init__(self) -> None:
        self._subjects: dict[Subject, dict[Version, SchemaVersion]] = {}
        self._max_version: dict[Subject, Version] = {}
        # schemas.identity of each version's text, and the id of each identity
        self._identities: dict[tuple[Subject, Version], str] = {}
        self._ids: dict[str, SchemaId] = {}
        self._guids: dict[str, SchemaId] = {}
        self._configs: dict[Subject | None, Compatibility] = {}
        self._max_id = SchemaId(0)

    # Applying records

    def put_version(self, entry: SchemaVersion) -> None:
        self._subjects.setdefault(entry.subject, {})[entry.version] = entry
        self._saw_version(entry.subject, entry.version)
        key = identity(entry.schema)
        self._identities[entry.subject, entry.version] = key
        self._ids.setdefault(key, entry.schema_id)
        self._guids.setdefault(entry.guid, entry.schema_id)
        self._max_id = max(self._max_id, entry.schema_id)

    def remove_version(self, subject: Subject, version: Version) -> None:
        self._saw_version(subject, version)  # a tombstone still tells which numbers were used
        versions = self._subjects.get(subject, {})
        versions.pop(version, None)
        self._identities.pop((subject, version), None)
        if not versions:
            self._subjects.pop(subject, None)

    def _saw_version(self, subject: Subject, version: Version) -> None:
        self._max_version[subject] = max(self._max_version.get(subject, version), version)

    def soft_delete_subject(self, subject: Subject, up_to: Version) -> None:
        versions = self._subjects.get(subject, {})
        for number, entry in versions.items():
            if number <= up_to and not entry.deleted:
                versions[number] = SchemaVersion(
                    entry.subject, entry.version, entry.schema_id, entry.schema, deleted=True
                )

    def put_config(self, subject: Subject | None, level: Compatibility | None) -> None:
        if level is None:
            self._configs.pop(subject, None)
        else:
            self._configs[subject] = level

    # Queries

    def next_id(self) -> SchemaId:
        return SchemaId(self.max_id() + 1)

    def max_id(self) -> SchemaId:
        """The highest id ever handed out (Confluent's ``maxId``)."""
        return self._max_id

    def id_for(self, schema_identity: str) -> SchemaId | None:
        """The id the schema of this :func:`~shop.registry.schemas.identity` has (or had)
        anywhere, for reuse across subjects."""
        return self._ids.get(schema_identity)

    def id_for_guid(self, schema_guid: str) -> SchemaId | None:
        """The id of the schema with this guid, while some version holds it."""
        schema_id = self._guids.get(schema_guid)
        if schema_id is None or not self.usages(schema_id, deleted=True):
            return None
        return schema_id

    def next_version(self, subject: Subject) -> Version:
        """Numbers are never reused, even after a permanent delete (while its tombstone lasts)."""
        return Version(self._max_version.get(subject, 0) + 1)

    def subjects(self, deleted: bool = False) -> list[Subject]:
        return sorted(
            subject
            for subject, versions in self._subjects.items()
            if any(deleted or not entry.deleted for entry in versions.values())
        )

    def every_version(
        self, prefix: str = "", deleted: bool = False, latest_only: bool = False
    ) -> list[SchemaVersion]:
        """Every version of the subjects starting with ``prefix``, by subject then version;
        ``latest_only`` keeps each subject's last one (of those ``deleted`` lets in)."""
        found: list[SchemaVersion] = []
        for subject in sorted(self._subjects):
            if subject.startswith(prefix):
                versions = self.listed(subject, deleted)
                found += versions[-1:] if latest_only else versions
        return found

    def listed(self, subject: Subject, deleted: bool = False) -> list[SchemaVersion]:
        """The subject's versions, oldest first, soft-deleted ones only if ``deleted``."""
        return [
            entry
            for _, entry in sorted(self._subjects.get(subject, {}).items())
            if deleted or not entry.deleted
        ]

    def versions(self, subject: Subject, deleted: bool = False) -> list[SchemaVersion]:
        """Like :meth:`listed`, but :class:`SubjectNotFound` when there are none."""
        found = self.listed(subject, deleted)
        if not found:
            raise SubjectNotFound(subject)
        return found

    def has_versions(self, subject: Subject) -> bool:
        """Whether the subject has any version, soft-deleted ones included."""
        return bool(self._subjects.get(subject))

    def version(
        self, subject: Subject, version: Version | None, deleted: bool = False
    ) -> SchemaVersion:
        """One version; ``None`` means the latest."""
        versions = self.versions(subject, deleted)
        if version is None:
            return versions[-1]
        for entry in versions:
            if entry.version == version:
                return entry
        raise VersionNotFound(version)

    def lookup(
        self, subject: Subject, schema_identity: str, deleted: bool = False
    ) -> SchemaVersion | None:
        """The newest version of ``subject`` holding the schema of this identity, if any."""
        matches = [
            entry
            for entry in self.listed(subject, deleted)
            if self._identities[entry.subject, entry.version] == schema_identity
        ]
        return matches[-1] if matches else None

    def usages(self, schema_id: SchemaId, deleted: bool = False) -> list[SchemaVersion]:
        """Every version holding ``schema_id``, by subject then version."""
        return [
            entry
            for subject in sorted(self._subjects)
            for _, entry in sorted(self._subjects[subject].items())
            if entry.schema_id == schema_id and (deleted or not entry.deleted)
        ]

    def schema(self, schema_id: SchemaId) -> str:
        """The schema text of an id still held by some version, soft-deleted ones included."""
        usages = self.usages(schema_id, deleted=True)
        if not usages:
            raise SchemaNotFound(f"Schema {schema_id} not found")
        return usages[0].schema

    def subject_config(self, subject: Subject) -> Compatibility | None:
        return self._configs.get(subject)

    def global_config(self) -> Compatibility:
        return self._configs.get(None, DEFAULT_COMPATIBILITY)

    def compatibility(self, subject: Subject) -> Compatibility:
        """The level that applies to ``subject``: its own, else the global one."""
        return self._configs.get(subject) or self.global_config()
