"""Where this registry answered unlike Confluent (issue #11), pinned to Confluent's source.

References are to confluentinc/schema-registry (8.5 line): R = core/.../schemaregistry/rest,
S = core/.../schemaregistry/storage, E = client/.../client/rest/entities.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest

from tests.registry.conftest import Api, body, record
from tests.waiting import unique

V1 = "application/vnd.schemaregistry.v1+json"
DEFAULT = "application/vnd.schemaregistry+json"
JSON = "application/json"
JAXRS_404 = {"error_code": 404, "message": "HTTP 404 Not Found"}


def invalid_version(text: str) -> dict[str, Any]:
    message = (
        f"The specified version '{text}' is not a valid version id. Allowed values are "
        'between [1, 2^31-1] and the string "latest"'
    )
    return {"error_code": 42202, "message": message}


def guid_of(text: str) -> str:
    """Confluent's guid: MD5 of the stored schema text (no references, metadata or rules) as a
    UUID (E/Schema.java getGuid and updateHash, S/MD5.java toString)."""
    return str(uuid.UUID(bytes=hashlib.md5(text.encode()).digest()))


def avro_name(subject: str) -> str:
    return "N" + "".join(char if char.isalnum() else "_" for char in subject)


async def register(api: Api, subject: str, schema: dict[str, Any]) -> dict[str, Any]:
    status, created = await api.call("POST", f"/subjects/{subject}/versions", body(schema))
    assert status == 200, created
    return dict(created)


async def exchange(
    api: Api, method: str, path: str, *, accept: str | None = None, payload: Any = None
) -> tuple[int, str, str]:
    """(status, the raw Content-Type header, body text); ``accept=None`` sends no Accept header."""
    headers = {} if accept is None else {"Accept": accept}
    kwargs: dict[str, Any] = {"headers": headers}
    if accept is None:
        kwargs["skip_auto_headers"] = ("Accept",)
    if payload is not None:
        headers["Content-Type"] = V1
        kwargs["data"] = json.dumps(payload)
    async with api.session.request(method, api.base_url + path, **kwargs) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


# 3. Integers in paths. Schema ids are a JAX-RS `@PathParam("id") Integer` (R/resources/
# SchemasResource.java getSchema, getSchemaOnly, getSubjects, getVersions): Jersey converts with
# Integer.valueOf, and a failed @PathParam conversion is Jersey's own 404, which rest-utils'
# WebApplicationExceptionMapper answers with the HTTP status as error_code.


@pytest.mark.parametrize("suffix", ["", "/schema", "/subjects", "/versions"])
@pytest.mark.parametrize("text", ["abc", "9" * 5000, "2147483648", "%201"])
async def test_schema_id_that_is_no_java_integer_is_a_plain_404(
    api: Api, text: str, suffix: str
) -> None:
    """An id Integer.valueOf refuses (letters, past 2^31-1, 5000 digits, ' 1') is 404/404."""
    assert await api.call("GET", f"/schemas/ids/{text}{suffix}") == (404, JAXRS_404)


async def test_negative_schema_id_is_schema_not_found(api: Api) -> None:
    """-1 is an Integer, so it is looked up and not found: 40403 'Schema -1 not found'."""
    expected = (404, {"error_code": 40403, "message": "Schema -1 not found"})
    assert await api.call("GET", "/schemas/ids/-1") == expected


async def test_plus_signed_schema_id_reads_that_id(api: Api) -> None:
    """Integer.valueOf takes a leading '+': /schemas/ids/+N is /schemas/ids/N."""
    subject = unique("plusid-value")
    created = await register(api, subject, record(avro_name(subject), ("x", "int")))
    plain = await api.call("GET", f"/schemas/ids/{created['id']}")
    assert plain[0] == 200
    assert await api.call("GET", f"/schemas/ids/+{created['id']}") == plain


@pytest.mark.parametrize("text", ["9" * 5000, "2147483648", "0"])
async def test_version_outside_java_int_is_42202(api: Api, text: str) -> None:
    """Versions go through VersionId (Integer.parseInt) before the subject is looked up:
    42202 with the text quoted, for a known and an unknown subject alike."""
    subject = unique("bigver-value")
    await register(api, subject, record(avro_name(subject), ("x", "int")))
    for name in (subject, unique("nover-value")):
        for method in ("GET", "DELETE"):
            answer = await api.call(method, f"/subjects/{name}/versions/{text}")
            assert answer == (422, invalid_version(text))


async def test_version_text_is_trimmed_and_may_carry_a_plus(api: Api) -> None:
    """VersionId parses version.trim() with Integer.parseInt: ' 1', '+1' and ' latest ' work."""
    subject = unique("trimver-value")
    await register(api, subject, record(avro_name(subject), ("x", "int")))
    status, expected = await api.call("GET", f"/subjects/{subject}/versions/1")
    assert status == 200
    for text in ("%201", "1%20", "+1", "%20latest%20", "LATEST"):
        assert await api.call("GET", f"/subjects/{subject}/versions/{text}") == (200, expected)


# 5. Compatibility before the first registration (R/resources/CompatibilityResource.java):
# testCompatibilityBySubjectName reads the version with get(subject, v, false), which is null for
# an unknown subject and for soft-deleted versions; only a missing non-latest version is an error
# (40402). "latest" of nothing, and testCompatibilityForSubject over no live versions, compare
# against an empty list: compatible.


async def test_compatibility_with_unknown_subject(api: Api) -> None:
    """A subject with no versions: latest and all versions are compatible, version 1 is 40402."""
    subject = unique("newcompat-value")
    schema = body(record(avro_name(subject), ("x", "int")))
    for path in ("versions/latest", "versions/-1", "versions"):
        answer = await api.call("POST", f"/compatibility/subjects/{subject}/{path}", schema)
        assert answer == (200, {"is_compatible": True})
    verbose = await api.call(
        "POST", f"/compatibility/subjects/{subject}/versions?verbose=true", schema
    )
    assert verbose == (200, {"is_compatible": True, "messages": []})
    missing = await api.call("POST", f"/compatibility/subjects/{subject}/versions/1", schema)
    assert missing == (404, {"error_code": 40402, "message": "Version 1 not found."})


async def test_compatibility_ignores_soft_deleted_versions(api: Api) -> None:
    """With only soft-deleted versions, even a schema they forbid is compatible; v1 is 40402."""
    subject = unique("softcompat-value")
    name = avro_name(subject)
    await register(api, subject, record(name, ("x", "int")))
    assert await api.call("DELETE", f"/subjects/{subject}") == (200, [1])
    clashing = body(record(name, ("x", "string")))
    for path in ("versions/latest", "versions"):
        answer = await api.call("POST", f"/compatibility/subjects/{subject}/{path}", clashing)
        assert answer == (200, {"is_compatible": True})
    missing = await api.call("POST", f"/compatibility/subjects/{subject}/versions/1", clashing)
    assert missing == (404, {"error_code": 40402, "message": "Version 1 not found."})


# 6. Subject names: QualifiedSubject.isValidSubject only refuses control characters, "__GLOBAL",
# "__EMPTY" and the global context; braces are ordinary characters.


async def test_subject_with_braces_works_everywhere(api: Api) -> None:
    """a{b}c, URL-encoded, registers, reads, lists, looks up, configures and deletes."""
    subject = unique("a{b}c")
    path = quote(subject, safe="")
    assert "%7B" in path and "%7D" in path
    schema = record("Braces", ("x", "int"))
    status, created = await api.call("POST", f"/subjects/{path}/versions", body(schema))
    assert status == 200
    status, found = await api.call("GET", f"/subjects/{path}/versions/1")
    assert (status, found["subject"], found["id"]) == (200, subject, created["id"])
    assert await api.call("GET", f"/subjects/{path}/versions") == (200, [1])
    assert subject in (await api.call("GET", "/subjects"))[1]
    status, looked_up = await api.call("POST", f"/subjects/{path}", body(schema))
    assert (status, looked_up["subject"], looked_up["version"]) == (200, subject, 1)
    config = {"compatibility": "FULL"}
    assert await api.call("PUT", f"/config/{path}", config) == (200, config)
    assert await api.call("GET", f"/config/{path}") == (200, {"compatibilityLevel": "FULL"})
    assert await api.call("DELETE", f"/config/{path}") == (200, {"compatibilityLevel": "FULL"})
    assert await api.call("DELETE", f"/subjects/{path}") == (200, [1])
    assert await api.call("DELETE", f"/subjects/{path}?permanent=true") == (200, [1])


# 7. GET /schemas (R/resources/SchemasResource.java getSchemas, S/AbstractSchemaRegistry.java
# allVersionsWithSubjectPrefix and schemasByVersion): every version under subjects starting with
# subjectPrefix, soft-deleted ones only with deleted=true, latestOnly keeping each subject's last
# included version, sorted by Schema.compareTo (subject, then version), then offset and limit.


async def test_get_schemas_by_prefix(api: Api) -> None:
    """Versions under the prefix, sorted by subject then version; deleted, latestOnly, paging."""
    prefix = unique("gsch")
    first, second = f"{prefix}-a", f"{prefix}-b"
    await register(api, second, record(avro_name(second), ("x", "int")))
    name = avro_name(first)
    await register(api, first, record(name, ("x", "int")))
    await register(api, first, record(name, ("x", "int"), ("y", "int"), default=0))
    await register(api, first, record(name, ("x", "int"), ("z", "int"), default=0))
    assert await api.call("DELETE", f"/subjects/{first}/versions/3") == (200, 3)
    stored = {}
    for subject, version in ((first, 1), (first, 2), (first, 3), (second, 1)):
        _, entry = await api.call("GET", f"/subjects/{subject}/versions/{version}?deleted=true")
        stored[subject, version] = entry

    async def listed(query: str) -> list[tuple[str, int]]:
        status, items = await api.call("GET", f"/schemas?subjectPrefix={prefix}{query}")
        assert status == 200, items
        for item in items:
            entry = stored[item["subject"], item["version"]]
            assert (item["id"], item["schema"]) == (entry["id"], entry["schema"])
            assert item["guid"] == guid_of(entry["schema"])
            # 8.x sends "AVRO" (its SchemaTypeConverter went in cc6bd5e24b7); 7.x left it out
            assert item.get("schemaType", "AVRO") == "AVRO"
            soft_deleted = (item["subject"], item["version"]) == (first, 3)
            assert item.get("deleted", False) == soft_deleted
        return [(item["subject"], item["version"]) for item in items]

    assert await listed("") == [(first, 1), (first, 2), (second, 1)]
    assert await listed("&deleted=true") == [(first, 1), (first, 2), (first, 3), (second, 1)]
    assert await listed("&latestOnly=true") == [(first, 2), (second, 1)]
    assert await listed("&latestOnly=true&deleted=true") == [(first, 3), (second, 1)]
    assert await listed("&offset=1&limit=1") == [(first, 2)]
    assert await listed("&offset=2") == [(second, 1)]
    # normalizeLimit: a limit that is not positive means the default (1000)
    assert await listed("&limit=0") == [(first, 1), (first, 2), (second, 1)]
    assert await listed("-c") == []


# 8. Content negotiation. Every resource class has @Produces(v1+json (qs 1), vnd.schemaregistry
# +json; qs=0.9, application/json; qs=0.5) (E/../rest/Versions.java). JAX-RS (spec 3.8, Jersey)
# orders candidates by specificity, then the client's q, then the server's qs; Jersey adds no
# charset to these types.

NEGOTIATED = [
    (None, V1),
    ("*/*", V1),
    ("application/*", V1),
    (JSON, JSON),
    (V1, V1),
    (DEFAULT, DEFAULT),
    (f"{JSON};q=0.9, {V1};q=0.1", JSON),
    (f"{JSON}, {V1}", V1),
    (f"{JSON}, {DEFAULT}", DEFAULT),
]


@pytest.mark.parametrize(("accept", "content_type"), NEGOTIATED)
async def test_content_type_follows_accept(api: Api, accept: str | None, content_type: str) -> None:
    """JSON answers, raw schema texts and errors all come as the negotiated type, no charset."""
    subject = unique("neg-value")
    created = await register(api, subject, record(avro_name(subject), ("x", "int")))
    status, got, text = await exchange(api, "GET", f"/subjects/{subject}/versions/1", accept=accept)
    assert (status, got, json.loads(text)["id"]) == (200, content_type, created["id"])
    _, stored = await api.call("GET", f"/subjects/{subject}/versions/1")
    for path in (f"/subjects/{subject}/versions/1/schema", f"/schemas/ids/{created['id']}/schema"):
        assert await exchange(api, "GET", path, accept=accept) == (
            200,
            content_type,
            stored["schema"],
        )
    status, got, text = await exchange(
        api, "GET", f"/subjects/{unique('no')}/versions", accept=accept
    )
    assert (status, got, json.loads(text)["error_code"]) == (404, content_type, 40401)
    status, got, text = await exchange(
        api, "POST", f"/compatibility/subjects/{subject}/versions", accept=accept, payload={}
    )
    assert (status, got, json.loads(text)["error_code"]) == (422, content_type, 42201)


async def test_unacceptable_type_is_406(api: Api) -> None:
    """Nothing the resources produce matches: Jersey's 406 through rest-utils' error mapper."""
    accept = "application/vnd.schemaregistry.v2+json"
    status, _, text = await exchange(api, "GET", "/subjects", accept=accept)
    assert (status, json.loads(text)) == (
        406,
        {"error_code": 406, "message": "HTTP 406 Not Acceptable"},
    )


# 9. R/resources/ConfigResource.java deleteSubjectConfig: `getConfig(subject) == null` ->
# Errors.subjectNotFoundException. getConfig is null whenever the subject has no config of its
# own; whether the subject has versions is never looked at.


async def test_deleting_a_config_never_set_is_40401(api: Api) -> None:
    """No subject-level config: 40401 for an unknown subject, a registered one, a deleted one."""
    unknown = unique("nocfg-value")
    known = unique("cfgless-value")
    await register(api, known, record(avro_name(known), ("x", "int")))
    for subject in (unknown, known):
        expected = (404, {"error_code": 40401, "message": f"Subject '{subject}' not found."})
        assert await api.call("DELETE", f"/config/{subject}") == expected
    config = {"compatibility": "NONE"}
    assert await api.call("PUT", f"/config/{known}", config) == (200, config)
    assert await api.call("DELETE", f"/config/{known}") == (200, {"compatibilityLevel": "NONE"})
    status, error = await api.call("DELETE", f"/config/{known}")
    assert (status, error["error_code"]) == (404, 40401)


# 10. CompatibilityResource: with verbose, an InvalidSchemaException becomes the one message of an
# incompatible answer; without verbose it is Errors.invalidSchemaException (42201).


@pytest.mark.parametrize("path", ["versions/latest", "versions/1", "versions"])
async def test_unparsable_schema_in_compatibility_check(api: Api, path: str) -> None:
    """verbose: 200 is_compatible false with the parse error as message; otherwise 422/42201."""
    subject = unique("badcompat-value")
    await register(api, subject, record(avro_name(subject), ("x", "int")))
    url = f"/compatibility/subjects/{subject}/{path}"
    broken = {"schema": '{"type": "recrod"'}
    status, answer = await api.call("POST", f"{url}?verbose=true", broken)
    assert (status, answer["is_compatible"], len(answer["messages"])) == (200, False, 1)
    assert isinstance(answer["messages"][0], str)
    status, error = await api.call("POST", url, broken)
    assert (status, error["error_code"]) == (422, 42201)
    # isCompatible's own message for a missing schema text is fixed
    empty = await api.call("POST", f"{url}?verbose=true", {"schema": ""})
    assert empty == (200, {"is_compatible": False, "messages": ["Empty schema"]})


# 11. S/KafkaSchemaRegistry.java register: the lookup cache still knows a soft-deleted schema, so
# the new version takes its old id; then every soft-deleted version of the subject with that id
# and a lower version is tombstoned ("Tombstone previous version with the same ID").


async def test_re_registering_a_soft_deleted_schema(api: Api) -> None:
    """The schema comes back as version 3 with its old id, and version 1 is permanently gone."""
    subject = unique("rereg-value")
    name = avro_name(subject)
    schema_a = record(name, ("x", "int"))
    first = await register(api, subject, schema_a)
    second = await register(api, subject, record(name, ("x", "int"), ("y", "int"), default=0))
    assert await api.call("DELETE", f"/subjects/{subject}/versions/1") == (200, 1)
    again = await register(api, subject, schema_a)
    assert again["id"] == first["id"]
    assert second["id"] != first["id"]
    assert await api.call("GET", f"/subjects/{subject}/versions?deleted=true") == (200, [2, 3])
    assert await api.call("GET", f"/subjects/{subject}/versions") == (200, [2, 3])
    gone = await api.call("GET", f"/subjects/{subject}/versions/1?deleted=true")
    assert gone == (404, {"error_code": 40402, "message": "Version 1 not found."})
    status, by_id = await api.call("GET", f"/schemas/ids/{first['id']}")
    assert status == 200
    status, latest = await api.call("GET", f"/subjects/{subject}/versions/latest")
    assert (status, latest["version"], latest["id"]) == (200, 3, first["id"])
    assert by_id["schema"] == latest["schema"]
    assert await api.call("GET", f"/schemas/ids/{first['id']}/versions") == (
        200,
        [{"subject": subject, "version": 3}],
    )


# 12. guid and maxId. RegisterSchemaResponse, Schema (lookup, GET version) and SchemaString
# (GET /schemas/ids, /schemas/guids) all carry the guid; only GET /schemas/ids/{id} takes
# fetchMaxId (KafkaSchemaRegistry.get: SchemaString.maxId = the highest id in the context).


async def test_register_lookup_and_read_carry_the_guid(api: Api) -> None:
    """POST versions answers id, version and guid; lookup, GET version and GET id carry it too."""
    subject = unique("guid-value")
    schema = record(avro_name(subject), ("x", "int"))
    created = await register(api, subject, schema)
    _, stored = await api.call("GET", f"/subjects/{subject}/versions/1")
    guid = guid_of(stored["schema"])
    assert (created["version"], created["guid"]) == (1, guid)
    assert created.get("schemaType", "AVRO") == "AVRO"
    assert stored["guid"] == guid
    again = await register(api, subject, schema)
    assert (again["id"], again["version"], again["guid"]) == (created["id"], 1, guid)
    status, looked_up = await api.call("POST", f"/subjects/{subject}", body(schema))
    assert (status, looked_up["id"], looked_up["guid"]) == (200, created["id"], guid)
    status, by_id = await api.call("GET", f"/schemas/ids/{created['id']}")
    assert (status, by_id["guid"], by_id["schema"]) == (200, guid, stored["schema"])


async def test_fetch_max_id(api: Api) -> None:
    """?fetchMaxId=true adds maxId, at least the newest id; without it there is no maxId."""
    subject = unique("maxid-value")
    name = avro_name(subject)
    older = await register(api, subject, record(name, ("x", "int")))
    newer = await register(api, subject, record(name, ("x", "int"), ("y", "int"), default=0))
    status, plain = await api.call("GET", f"/schemas/ids/{older['id']}")
    assert status == 200 and "maxId" not in plain
    status, with_max = await api.call("GET", f"/schemas/ids/{older['id']}?fetchMaxId=true")
    assert status == 200 and isinstance(with_max["maxId"], int)
    assert with_max["maxId"] >= newer["id"] > older["id"]
    assert {key: value for key, value in with_max.items() if key != "maxId"} == plain


async def test_schema_by_guid(api: Api) -> None:
    """/schemas/guids/{guid} answers the schema without subject or version; /ids its ids."""
    subject = unique("byguid-value")
    created = await register(api, subject, record(avro_name(subject), ("x", "int")))
    _, stored = await api.call("GET", f"/subjects/{subject}/versions/1")
    guid = guid_of(stored["schema"])
    status, found = await api.call("GET", f"/schemas/guids/{guid}")
    assert (status, found["schema"], found["guid"]) == (200, stored["schema"], guid)
    assert "subject" not in found and "version" not in found
    assert found.get("schemaType", "AVRO") == "AVRO"
    ids = await api.call("GET", f"/schemas/guids/{guid}/ids")
    assert ids == (200, [{"context": ".", "id": created["id"]}])
    nowhere = str(uuid.uuid4())
    missing = await api.call("GET", f"/schemas/guids/{nowhere}")
    assert missing == (404, {"error_code": 40403, "message": f"Schema {nowhere} not found"})
    assert await api.call("GET", f"/schemas/guids/{nowhere}/ids") == (200, [])
