"""Registering, looking up and reading schemas through the REST API."""

from __future__ import annotations

import json

from tests.registry.conftest import Api, body, record
from tests.waiting import unique


def canonical(schema: object) -> str:
    return json.dumps(schema, separators=(",", ":"))


async def test_root_answers_empty_object(api: Api) -> None:
    """GET / is the readiness probe and answers {}."""
    assert await api.call("GET", "/") == (200, {})


async def test_register_returns_id_and_lookups_find_it(api: Api) -> None:
    """A registered schema is found by id, by latest version and by lookup under its subject."""
    subject = unique("reg-value")
    schema = record("Reg", ("x", "int"))
    status, created = await api.call("POST", f"/subjects/{subject}/versions", body(schema))
    assert status == 200 and set(created) == {"id", "version", "guid"}
    schema_id = created["id"]
    expected_text = '{"type":"record","name":"Reg","fields":[{"name":"x","type":"int"}]}'
    guid = created["guid"]
    assert await api.call("GET", f"/schemas/ids/{schema_id}") == (
        200,
        {"guid": guid, "schema": expected_text},
    )
    described = {
        "subject": subject,
        "version": 1,
        "id": schema_id,
        "guid": guid,
        "schema": expected_text,
    }
    assert await api.call("GET", f"/subjects/{subject}/versions/latest") == (200, described)
    assert await api.call("GET", f"/subjects/{subject}/versions/-1") == (200, described)
    assert await api.call("GET", f"/subjects/{subject}/versions/1") == (200, described)
    assert await api.call("POST", f"/subjects/{subject}", body(schema)) == (200, described)


async def test_identical_schema_returns_existing_id_and_version(api: Api) -> None:
    """Registering the same schema again (even reformatted) creates no new version."""
    subject = unique("same-value")
    schema = record("Same", ("x", "string"))
    _, first = await api.call("POST", f"/subjects/{subject}/versions", body(schema))
    reformatted = {"schema": json.dumps(schema, indent=4)}
    assert await api.call("POST", f"/subjects/{subject}/versions", reformatted) == (200, first)
    assert await api.call("GET", f"/subjects/{subject}/versions") == (200, [1])


async def test_same_schema_under_another_subject_reuses_id(api: Api) -> None:
    """Ids are global: one schema text has one id across subjects."""
    schema = record(unique("Shared").replace("-", "_"), ("x", "long"))
    first, second = unique("one-value"), unique("two-value")
    _, a = await api.call("POST", f"/subjects/{first}/versions", body(schema))
    _, b = await api.call("POST", f"/subjects/{second}/versions", body(schema))
    assert a == b
    status, versions = await api.call("GET", f"/schemas/ids/{a['id']}/versions")
    assert status == 200
    assert versions == sorted(
        [{"subject": first, "version": 1}, {"subject": second, "version": 1}],
        key=lambda item: str(item["subject"]),
    )
    assert await api.call("GET", f"/schemas/ids/{a['id']}/subjects") == (
        200,
        sorted([first, second]),
    )


async def test_new_versions_get_increasing_ids(api: Api) -> None:
    """A compatible change is version 2 with a larger id; all versions are listed."""
    subject = unique("grow-value")
    v1 = record("Grow", ("x", "int"))
    v2 = record("Grow", ("x", "int"), ("y", "int"), default=0)
    _, first = await api.call("POST", f"/subjects/{subject}/versions", body(v1))
    _, second = await api.call("POST", f"/subjects/{subject}/versions", body(v2))
    assert second["id"] > first["id"]
    assert await api.call("GET", f"/subjects/{subject}/versions") == (200, [1, 2])
    status, latest = await api.call("GET", f"/subjects/{subject}/versions/latest")
    assert (status, latest["version"], latest["id"]) == (200, 2, second["id"])
    assert subject in (await api.call("GET", "/subjects"))[1]


async def test_raw_schema_endpoints(api: Api) -> None:
    """/versions/{v}/schema and /schemas/ids/{id}/schema answer the schema itself."""
    subject = unique("raw-value")
    schema = record("Raw", ("x", "int"))
    _, created = await api.call("POST", f"/subjects/{subject}/versions", body(schema))
    expected = {"type": "record", "name": "Raw", "fields": [{"type": "int", "name": "x"}]}
    assert await api.call("GET", f"/subjects/{subject}/versions/1/schema") == (200, expected)
    assert await api.call("GET", f"/schemas/ids/{created['id']}/schema") == (200, expected)
    assert await api.call("GET", f"/subjects/{subject}/versions/1/referencedby") == (200, [])


async def test_primitive_schema_is_stored_canonically(api: Api) -> None:
    """{"type": "string"} is the same schema as "string", as Confluent stores it."""
    subject = unique("prim-value")
    _, created = await api.call(
        "POST", f"/subjects/{subject}/versions", {"schema": '{"type": "string"}'}
    )
    status, found = await api.call("GET", f"/schemas/ids/{created['id']}")
    assert (status, found["schema"]) == (200, '"string"')
    again = await api.call("POST", f"/subjects/{subject}/versions", {"schema": '"string"'})
    assert again == (200, created)


async def test_get_by_id_with_subject(api: Api) -> None:
    """?subject= names the version holding the id under that subject, or under any other: as
    Confluent answers, so that a deserializer asking with its topic's subject finds a schema
    registered under another (RecordNameStrategy, a schema shared by topics)."""
    subject = unique("idsub-value")
    _, created = await api.call(
        "POST", f"/subjects/{subject}/versions", body(record("IdSub", ("x", "int")))
    )
    status, found = await api.call("GET", f"/schemas/ids/{created['id']}?subject={subject}")
    assert (status, found["subject"], found["version"]) == (200, subject, 1)
    status, found = await api.call("GET", f"/schemas/ids/{created['id']}?subject={unique('other')}")
    assert (status, found["subject"], found["version"]) == (200, subject, 1)


async def test_types_and_mode(api: Api) -> None:
    """Only AVRO is supported, and the registry is always READWRITE."""
    assert await api.call("GET", "/schemas/types") == (200, ["AVRO"])
    assert await api.call("GET", "/mode") == (200, {"mode": "READWRITE"})


async def test_unicode_and_encoded_subjects_round_trip(api: Api) -> None:
    """Subjects with non-ASCII letters, emoji, '/', '%' and spaces are stored and listed as sent."""
    suffix = unique("")
    for encoded, name in (
        ("%C3%A9t%C3%A9", "été"),
        ("%F0%9F%98%80", "😀"),
        ("a%2Fb", "a/b"),
        ("a%25b%20c", "a%b c"),
    ):
        status, created = await api.call(
            "POST", f"/subjects/{encoded}{suffix}/versions", {"schema": '"int"'}
        )
        assert status == 200
        assert await api.call("GET", f"/subjects/{encoded}{suffix}/versions") == (200, [1])
        assert name + suffix in (await api.call("GET", "/subjects"))[1]
        assert name + suffix in (await api.call("GET", f"/schemas/ids/{created['id']}/subjects"))[1]
