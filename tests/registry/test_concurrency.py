"""Many clients writing to one subject at once get distinct, gapless versions and ids."""

from __future__ import annotations

import asyncio
import json

from tests.registry.conftest import Api, body, record
from tests.waiting import unique

CLIENTS = 24


async def test_concurrent_different_schemas_get_versions_one_to_n(api: Api) -> None:
    """Simultaneous registrations of different schemas: versions 1..N, one id each, all readable."""
    subject = unique("race-value")
    await api.call("PUT", f"/config/{subject}", {"compatibility": "NONE"})
    schemas = [record(f"Race{n}", ("x", "int")) for n in range(CLIENTS)]
    answers = await asyncio.gather(
        *(api.call("POST", f"/subjects/{subject}/versions", body(schema)) for schema in schemas)
    )
    assert all(status == 200 for status, _ in answers)
    ids = [answer["id"] for _, answer in answers]
    assert len(set(ids)) == CLIENTS
    assert await api.call("GET", f"/subjects/{subject}/versions") == (
        200,
        list(range(1, CLIENTS + 1)),
    )
    for version in range(1, CLIENTS + 1):
        _, entry = await api.call("GET", f"/subjects/{subject}/versions/{version}")
        assert entry["id"] == ids[schemas.index(record_named(entry["schema"]))]


def record_named(text: str) -> dict[str, object]:
    """The test schema whose record name appears in ``text``."""
    name = json.loads(text)["name"]
    return record(name, ("x", "int"))


async def test_concurrent_identical_schemas_make_one_version(api: Api) -> None:
    """The same schema sent by many clients at once is one version and one id."""
    subject = unique("same-race-value")
    schema = body(record("SameRace", ("x", "int")))
    answers = await asyncio.gather(
        *(api.call("POST", f"/subjects/{subject}/versions", schema) for _ in range(CLIENTS))
    )
    assert {status for status, _ in answers} == {200}
    assert len({answer["id"] for _, answer in answers}) == 1
    assert await api.call("GET", f"/subjects/{subject}/versions") == (200, [1])
