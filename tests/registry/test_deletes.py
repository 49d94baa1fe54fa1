"""Soft and permanent deletes of versions and subjects, with Confluent's rules and codes."""

from __future__ import annotations

from tests.registry.conftest import Api, body, record
from tests.waiting import unique


async def two_versions(api: Api, subject: str) -> tuple[int, int]:
    name = "D" + subject.replace("-", "_")
    _, first = await api.call(
        "POST", f"/subjects/{subject}/versions", body(record(name, ("x", "int")))
    )
    v2 = record(name, ("x", "int"), ("y", "int"), default=1)
    _, second = await api.call("POST", f"/subjects/{subject}/versions", body(v2))
    return first["id"], second["id"]


async def test_soft_delete_version_hides_it_but_id_resolves(api: Api) -> None:
    """A soft-deleted version leaves the listing, stays readable with ?deleted and by id."""
    subject = unique("sdv-value")
    first_id, _ = await two_versions(api, subject)
    assert await api.call("DELETE", f"/subjects/{subject}/versions/1") == (200, 1)
    assert await api.call("GET", f"/subjects/{subject}/versions") == (200, [2])
    assert await api.call("GET", f"/subjects/{subject}/versions?deleted=true") == (200, [1, 2])
    status, error = await api.call("GET", f"/subjects/{subject}/versions/1")
    assert (status, error) == (404, {"error_code": 40402, "message": "Version 1 not found."})
    status, found = await api.call("GET", f"/subjects/{subject}/versions/1?deleted=true")
    assert (status, found["id"]) == (200, first_id)
    assert (await api.call("GET", f"/schemas/ids/{first_id}"))[0] == 200
    status, error = await api.call("DELETE", f"/subjects/{subject}/versions/1")
    assert (status, error["error_code"]) == (404, 40406)


async def test_permanent_version_delete_needs_soft_delete_first(api: Api) -> None:
    """?permanent=true on a live version is 40407; after a soft delete it removes the version."""
    subject = unique("pdv-value")
    await two_versions(api, subject)
    status, error = await api.call("DELETE", f"/subjects/{subject}/versions/2?permanent=true")
    assert (status, error["error_code"]) == (404, 40407)
    assert await api.call("DELETE", f"/subjects/{subject}/versions/2") == (200, 2)
    assert await api.call("DELETE", f"/subjects/{subject}/versions/2?permanent=True") == (200, 2)
    assert await api.call("GET", f"/subjects/{subject}/versions?deleted=true") == (200, [1])


async def test_version_numbers_are_not_reused(api: Api) -> None:
    """After deleting version 2, the next registration is version 3."""
    subject = unique("reuse-value")
    await two_versions(api, subject)
    await api.call("DELETE", f"/subjects/{subject}/versions/2")
    await api.call("DELETE", f"/subjects/{subject}/versions/2?permanent=true")
    name = "D" + subject.replace("-", "_")
    v3 = record(name, ("x", "int"), ("z", "string"), default="")
    await api.call("POST", f"/subjects/{subject}/versions", body(v3))
    assert await api.call("GET", f"/subjects/{subject}/versions") == (200, [1, 3])


async def test_soft_delete_subject(api: Api) -> None:
    """Deleting a subject lists its versions, hides it, and ids still resolve."""
    subject = unique("sds-value")
    first_id, second_id = await two_versions(api, subject)
    assert await api.call("DELETE", f"/subjects/{subject}") == (200, [1, 2])
    assert subject not in (await api.call("GET", "/subjects"))[1]
    assert subject in (await api.call("GET", "/subjects?deleted=TRUE"))[1]
    status, error = await api.call("GET", f"/subjects/{subject}/versions")
    assert (status, error) == (
        404,
        {"error_code": 40401, "message": f"Subject '{subject}' not found."},
    )
    assert (await api.call("GET", f"/schemas/ids/{second_id}"))[0] == 200
    status, error = await api.call("DELETE", f"/subjects/{subject}")
    assert (status, error["error_code"]) == (404, 40404)
    status, found = await api.call(
        "POST",
        f"/subjects/{subject}?deleted=true",
        body(record("D" + subject.replace("-", "_"), ("x", "int"))),
    )
    assert (status, found["id"], found["version"]) == (200, first_id, 1)


async def test_permanent_subject_delete(api: Api) -> None:
    """A live subject cannot be deleted permanently (40405); a soft-deleted one can, completely."""
    subject = unique("pds-value")
    first_id, _ = await two_versions(api, subject)
    status, error = await api.call("DELETE", f"/subjects/{subject}?permanent=true")
    assert (status, error["error_code"]) == (404, 40405)
    await api.call("DELETE", f"/subjects/{subject}")
    assert await api.call("DELETE", f"/subjects/{subject}?permanent=true") == (200, [1, 2])
    assert subject not in (await api.call("GET", "/subjects?deleted=true"))[1]
    status, error = await api.call("GET", f"/schemas/ids/{first_id}")
    assert (status, error["error_code"]) == (404, 40403)
    status, error = await api.call("DELETE", f"/subjects/{subject}")
    assert (status, error["error_code"]) == (404, 40401)


async def test_reregistering_after_subject_delete_starts_a_new_version(api: Api) -> None:
    """A schema registered again after a soft delete keeps its id and gets the next version."""
    subject = unique("again-value")
    first_id, _ = await two_versions(api, subject)
    await api.call("DELETE", f"/subjects/{subject}")
    schema = record("D" + subject.replace("-", "_"), ("x", "int"))
    status, created = await api.call("POST", f"/subjects/{subject}/versions", body(schema))
    assert (status, created["id"], created["version"]) == (200, first_id, 3)
    assert await api.call("GET", f"/subjects/{subject}/versions") == (200, [3])
    # as Confluent does, the soft-deleted version holding it is removed: only the other remains
    assert await api.call("GET", f"/subjects/{subject}/versions?deleted=true") == (200, [2, 3])


async def test_soft_deleting_a_subject_removes_its_config(api: Api) -> None:
    """As Confluent does: a soft-deleted subject loses its own compatibility level."""
    subject = unique("sdcfg-value")
    await two_versions(api, subject)
    await api.call("PUT", f"/config/{subject}", {"compatibility": "NONE"})
    await api.call("DELETE", f"/subjects/{subject}")
    status, error = await api.call("GET", f"/config/{subject}")
    assert (status, error["error_code"]) == (404, 40408)


async def test_deleting_the_latest_version_then_registering_it_again(api: Api) -> None:
    """The same schema comes back as a new version with its old id; ?deleted finds both."""
    subject = unique("relatest-value")
    _, second_id = await two_versions(api, subject)
    _, latest = await api.call("GET", f"/subjects/{subject}/versions/latest")
    assert await api.call("DELETE", f"/subjects/{subject}/versions/latest") == (200, 2)
    again = {"schema": latest["schema"]}
    status, created = await api.call("POST", f"/subjects/{subject}/versions", again)
    assert (status, created["id"], created["version"]) == (200, second_id, 3)
    assert await api.call("GET", f"/subjects/{subject}/versions") == (200, [1, 3])
    status, found = await api.call("POST", f"/subjects/{subject}?deleted=true", again)
    assert (status, found["version"], found["id"]) == (200, 3, second_id)
    # the soft-deleted version 2 held the same schema: Confluent removes it
    assert await api.call("GET", f"/schemas/ids/{second_id}/versions?deleted=true") == (
        200,
        [{"subject": subject, "version": 3}],
    )
    assert await api.call("GET", f"/schemas/ids/{second_id}/versions") == (
        200,
        [{"subject": subject, "version": 3}],
    )


async def test_lookup_finds_a_soft_deleted_version_only_with_deleted(api: Api) -> None:
    """POST /subjects/{s} skips soft-deleted versions unless ?deleted=true."""
    subject = unique("lkdel-value")
    await two_versions(api, subject)
    name = "D" + subject.replace("-", "_")
    await api.call("DELETE", f"/subjects/{subject}/versions/1")
    status, error = await api.call("POST", f"/subjects/{subject}", body(record(name, ("x", "int"))))
    assert (status, error["error_code"]) == (404, 40403)
    status, found = await api.call(
        "POST", f"/subjects/{subject}?deleted=TRUE", body(record(name, ("x", "int")))
    )
    assert (status, found["version"]) == (200, 1)
