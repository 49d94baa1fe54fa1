"""The registry's operations: queries read the database, changes go through the ``_schemas`` log.

Every change is decided and written in the one writer's turn: under one lock, with the state first
read up to the end of the topic, so checks (identical schema, compatibility, soft-delete state,
the next id) and the write they lead to see everything written before, even a write that timed
out and landed late.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from shop.registry import compatibility, records
from shop.registry.database import Database, SchemaVersion
from shop.registry.errors import (
    IncompatibleSchema,
    SubjectNotFound,
    SubjectNotSoftDeleted,
    SubjectSoftDeleted,
    VersionNotFound,
    VersionNotSoftDeleted,
    VersionSoftDeleted,
)
from shop.registry.log import SchemaLog
from shop.registry.schemas import ParsedSchema, parse, parse_canonical
from shop.registry.typedefs import Compatibility, Subject, Version
from shop.registry.work import SchemaWork


class Registry:
    def __init__(self, database: Database, log: SchemaLog, work: SchemaWork) -> None:
        self.database = database
        self._log = log
        self._work = work
        self._writing = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def _write_turn(self) -> AsyncIterator[None]:
        # No bound on the wait itself: a turn's own steps are (the sync and the write by the
        # timeout, the check by MAX_CHECKS), so a queue of writers always moves, and a bound
        # here failed the last of two dozen concurrent registrations on a loaded broker.
        async with self._writing:
            await self._log.sync()
            yield

    async def parse(self, text: str, schema_type: str, *, new: bool) -> ParsedSchema:
        """``text`` parsed (see :func:`~shop.registry.schemas.parse`), off the loop if large."""
        return await self._work.run(len(text), parse, text, schema_type, new=new)

    async def register(self, subject: Subject, schema: ParsedSchema) -> SchemaVersion:
        """The version of ``subject`` holding ``schema``, registered as a new one if needed.

        As Confluent does, a schema registered again after its version was soft-deleted keeps
        its id, gets a new version, and the soft-deleted versions holding it are removed.
        """
        async with self._write_turn():
            db = self.database
            existing = db.lookup(subject, schema.identity)
            if existing is not None:
                return existing
            found = await self.check(subject, schema, db.listed(subject))
            if found:
                raise IncompatibleSchema(subject, found)
            schema_id = db.id_for(schema.identity) or db.next_id()
            entry = SchemaVersion(subject, db.next_version(subject), schema_id, schema.canonical)
            await self._log.write(records.schema_record(entry))
            for old in db.listed(subject, deleted=True):
                if old.deleted and old.schema_id == schema_id:
                    await self._log.write(records.schema_tombstone(subject, old.version))
            return entry

    def compatibility_targets(
        self, subject: Subject, version: Version | None, all_versions: bool
    ) -> list[SchemaVersion]:
        """The live versions a schema is checked against: every one, one, or the latest if any.

        Confluent checks against nothing (so anything is compatible) when ``latest`` is asked
        of a subject without live versions; a numbered version must be live.
        """
        live = self.database.listed(subject)
        if all_versions:
            return live
        if version is None:
            return live[-1:]
        found = [entry for entry in live if entry.version == version]
        if not found:
            raise VersionNotFound(version)
        return found

    async def check(
        self, subject: Subject, schema: ParsedSchema, olds: list[SchemaVersion]
    ) -> list[str]:
        """Why ``schema`` could not follow ``olds`` under the subject's level (transitive, or
        against the last of them); parsing the olds and checking is CPU-bound, so a large check
        runs off the loop."""
        level = self.database.compatibility(subject)
        if level is Compatibility.NONE or not olds:
            return []  # nothing to parse: an old schema Confluent stored may not parse here
        texts = [entry.schema for entry in olds]
        size = len(schema.canonical) + sum(map(len, texts))
        return await self._work.run(size, _problems, level, schema, texts)

    async def delete_subject(self, subject: Subject, permanent: bool) -> list[Version]:
        async with self._write_turn():
            everything = self.database.versions(subject, deleted=True)
            live = [entry for entry in everything if not entry.deleted]
            if permanent:
                if live:
                    raise SubjectNotSoftDeleted(subject)
                for entry in everything:
                    await self._log.write(records.schema_tombstone(subject, entry.version))
                await self._forget_config(subject)
                return [entry.version for entry in everything]
            if not live:
                raise SubjectSoftDeleted(subject)
            await self._log.write(records.delete_subject_record(subject, live[-1].version))
            await self._forget_config(subject)  # Confluent drops it on a soft delete too
            return [entry.version for entry in live]

    async def _forget_config(self, subject: Subject) -> None:
        if self.database.subject_config(subject) is not None:
            await self._log.write(records.config_record(subject, None))

    async def delete_version(
        self, subject: Subject, version: Version | None, permanent: bool
    ) -> Version:
        async with self._write_turn():
            entry = self._version_to_delete(subject, version, permanent)
            if permanent:
                if not entry.deleted:
                    raise VersionNotSoftDeleted(subject, entry.version)
                await self._log.write(records.schema_tombstone(subject, entry.version))
            else:
                if entry.deleted:
                    raise VersionSoftDeleted(subject, entry.version)
                deleted = SchemaVersion(subject, entry.version, entry.schema_id, entry.schema, True)
                await self._log.write(records.schema_record(deleted))
            return entry.version

    def _version_to_delete(
        self, subject: Subject, version: Version | None, permanent: bool
    ) -> SchemaVersion:
        if not self.database.has_versions(subject):
            raise SubjectNotFound(subject)
        if version is None:
            return self.database.version(subject, None, deleted=permanent)
        for entry in self.database.versions(subject, deleted=True):
            if entry.version == version:
                return entry
        raise VersionNotFound(version)

    async def set_config(self, subject: Subject | None, level: Compatibility) -> None:
        async with self._write_turn():
            await self._log.write(records.config_record(subject, level))

    async def delete_config(self, subject: Subject | None) -> Compatibility:
        """Remove a config; the level it had (the global one falls back to the default)."""
        async with self._write_turn():
            if subject is None:
                old = self.database.global_config()
            else:
                subject_level = self.database.subject_config(subject)
                if subject_level is None:
                    raise SubjectNotFound(subject)  # Confluent's ConfigResource says so
                old = subject_level
            await self._log.write(records.config_record(subject, None))
            return old


def _problems(level: Compatibility, new: ParsedSchema, olds: list[str]) -> list[str]:
    parsed = [parse_canonical(text).avro for text in olds]
    return compatibility.problems(level, new.avro, parsed)
