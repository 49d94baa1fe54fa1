"""HTTP handlers: read the request, call the registry, answer in Confluent's shapes."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from shop.registry import params
from shop.registry.database import Database, SchemaVersion
from shop.registry.errors import CompatibilityNotConfigured, InvalidSchema, SchemaNotFound
from shop.registry.guids import guid, parse_guid
from shop.registry.keys import get_registry
from shop.registry.middleware import json_answer as reply
from shop.registry.negotiation import V1_JSON
from shop.registry.schemas import SUPPORTED_TYPES, ParsedSchema
from shop.registry.typedefs import SchemaId


def text_answer(text: str) -> web.Response:
    return web.Response(body=text.encode(), content_type=V1_JSON)


async def posted_schema(request: web.Request, *, new: bool) -> ParsedSchema:
    """The schema in the request's body, parsed (``new``: as one to register or check)."""
    text, schema_type = params.schema_text(await params.body(request))
    return await get_registry(request).parse(text, schema_type, new=new)


def described(entry: SchemaVersion) -> dict[str, Any]:
    return {
        "subject": entry.subject,
        "version": entry.version,
        "id": entry.schema_id,
        "guid": entry.guid,
        "schema": entry.schema,
    }


async def root(request: web.Request) -> web.Response:
    return reply({})


async def schema_types(request: web.Request) -> web.Response:
    return reply(list(SUPPORTED_TYPES))


async def mode(request: web.Request) -> web.Response:
    return reply({"mode": "READWRITE"})


async def list_subjects(request: web.Request) -> web.Response:
    return reply(get_registry(request).database.subjects(params.flag(request, "deleted")))


async def list_versions(request: web.Request) -> web.Response:
    db = get_registry(request).database
    entries = db.versions(params.subject(request), params.flag(request, "deleted"))
    return reply([entry.version for entry in entries])


async def register(request: web.Request) -> web.Response:
    registry, subject = get_registry(request), params.subject(request)
    entry = await registry.register(subject, await posted_schema(request, new=True))
    return reply({"id": entry.schema_id, "version": entry.version, "guid": entry.guid})


async def lookup(request: web.Request) -> web.Response:
    db = get_registry(request).database
    subject, deleted = params.subject(request), params.flag(request, "deleted")
    db.versions(subject, deleted)  # an unknown subject is 40401 before the schema is judged
    schema = await posted_schema(request, new=False)
    entry = db.lookup(subject, schema.identity, deleted)
    if entry is None:
        raise SchemaNotFound()
    return reply(described(entry))


async def delete_subject(request: web.Request) -> web.Response:
    registry = get_registry(request)
    subject, permanent = params.subject(request), params.flag(request, "permanent")
    return reply(await registry.delete_subject(subject, permanent))


async def get_version(request: web.Request) -> web.Response:
    db = get_registry(request).database
    entry = db.version(
        params.subject(request), params.version(request), params.flag(request, "deleted")
    )
    return reply(described(entry))


async def get_version_schema(request: web.Request) -> web.Response:
    db = get_registry(request).database
    entry = db.version(
        params.subject(request), params.version(request), params.flag(request, "deleted")
    )
    return text_answer(entry.schema)


async def referenced_by(request: web.Request) -> web.Response:
    db = get_registry(request).database
    db.version(params.subject(request), params.version(request), params.flag(request, "deleted"))
    return reply([])


async def delete_version(request: web.Request) -> web.Response:
    registry = get_registry(request)
    deleted = await registry.delete_version(
        params.subject(request), params.version(request), params.flag(request, "permanent")
    )
    return reply(deleted)


async def list_schemas(request: web.Request) -> web.Response:
    db = get_registry(request).database
    entries = db.every_version(
        request.query.get("subjectPrefix", ""),
        params.flag(request, "deleted"),
        params.flag(request, "latestOnly"),
    )
    offset, limit = params.page(request)
    return reply(
        [
            described(entry) | {"deleted": entry.deleted}
            for entry in entries[offset : offset + limit]
        ]
    )


async def get_schema(request: web.Request) -> web.Response:
    db = get_registry(request).database
    schema_id = params.schema_id(request)
    text = db.schema(schema_id)
    answer: dict[str, Any] = {"guid": guid(text), "schema": text}
    if subject := request.query.get("subject"):
        # Confluent names a version holding the id: under that subject if one does, else any
        # (a deserializer asks with its topic's subject, which a shared schema may not be under)
        holders = db.usages(schema_id, deleted=True)
        holder = next((entry for entry in holders if entry.subject == subject), holders[0])
        answer |= {"subject": holder.subject, "version": holder.version}
    if params.flag(request, "fetchMaxId"):
        answer["maxId"] = db.max_id()
    return reply(answer)


async def get_schema_by_guid(request: web.Request) -> web.Response:
    db = get_registry(request).database
    schema_id = _id_of_guid(request, db)
    if schema_id is None:
        raise SchemaNotFound(f"Schema {request.match_info['guid']} not found")
    text = db.schema(schema_id)
    return reply({"guid": guid(text), "schema": text})


async def schema_ids_of_guid(request: web.Request) -> web.Response:
    schema_id = _id_of_guid(request, get_registry(request).database)
    return reply([] if schema_id is None else [{"context": ".", "id": schema_id}])


def _id_of_guid(request: web.Request, db: Database) -> SchemaId | None:
    schema_guid = parse_guid(request.match_info["guid"])
    return None if schema_guid is None else db.id_for_guid(schema_guid)


async def get_schema_text(request: web.Request) -> web.Response:
    text = get_registry(request).database.schema(params.schema_id(request))
    return text_answer(text)


async def schema_versions(request: web.Request) -> web.Response:
    db = get_registry(request).database
    schema_id = params.schema_id(request)
    db.schema(schema_id)
    usages = db.usages(schema_id, params.flag(request, "deleted"))
    return reply([{"subject": entry.subject, "version": entry.version} for entry in usages])


async def schema_subjects(request: web.Request) -> web.Response:
    db = get_registry(request).database
    schema_id = params.schema_id(request)
    db.schema(schema_id)
    usages = db.usages(schema_id, params.flag(request, "deleted"))
    return reply(sorted({entry.subject for entry in usages}))


async def check_compatibility(request: web.Request) -> web.Response:
    registry = get_registry(request)
    subject = params.subject(request)
    all_versions = "version" not in request.match_info
    version = None if all_versions else params.version(request)
    olds = registry.compatibility_targets(subject, version, all_versions)
    verbose = params.flag(request, "verbose")
    try:
        schema = await posted_schema(request, new=True)
    except InvalidSchema as exc:
        if not verbose:
            raise
        return reply({"is_compatible": False, "messages": [exc.message]})
    found = await registry.check(subject, schema, olds)
    answer: dict[str, Any] = {"is_compatible": not found}
    if verbose:
        answer["messages"] = found
    return reply(answer)


async def get_global_config(request: web.Request) -> web.Response:
    return reply({"compatibilityLevel": get_registry(request).database.global_config()})


async def get_subject_config(request: web.Request) -> web.Response:
    db = get_registry(request).database
    subject = params.subject(request)
    level = db.subject_config(subject)
    if level is None:
        if not params.flag(request, "defaultToGlobal"):
            raise CompatibilityNotConfigured(subject)
        level = db.global_config()
    return reply({"compatibilityLevel": level})


async def put_global_config(request: web.Request) -> web.Response:
    level = params.compatibility(await params.body(request))
    await get_registry(request).set_config(None, level)
    return reply({"compatibility": level})


async def put_subject_config(request: web.Request) -> web.Response:
    subject = params.subject(request)
    level = params.compatibility(await params.body(request))
    await get_registry(request).set_config(subject, level)
    return reply({"compatibility": level})


async def delete_global_config(request: web.Request) -> web.Response:
    return reply({"compatibilityLevel": await get_registry(request).delete_config(None)})


async def delete_subject_config(request: web.Request) -> web.Response:
    old = await get_registry(request).delete_config(params.subject(request))
    return reply({"compatibilityLevel": old})
