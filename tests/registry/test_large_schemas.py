"""Large schemas: refused past the limits with Confluent's 42209, and parsed and checked off the
event loop when just under them, so that other requests keep answering."""

from __future__ import annotations

import asyncio
import io
import json
import time
from typing import Any

from shop.registry.schemas import MAX_FIELDS, MAX_TEXT_LENGTH
from tests.registry.conftest import CONTENT_TYPE, Api, body, record
from tests.waiting import unique

TOO_LARGE = 42209


async def post_large(api: Api, path: str, payload: dict[str, str]) -> tuple[int, Any]:
    """POST a body of megabytes as a stream, as aiohttp asks for large bodies."""
    data = io.BytesIO(json.dumps(payload).encode())
    return await api.call("POST", path, data=data, headers={"Content-Type": CONTENT_TYPE})


def wide(fields: int, name: str = "Wide") -> dict[str, Any]:
    """A record of ``fields`` int fields."""
    return record(name, *((f"f{i}", "int") for i in range(fields)))


async def test_a_schema_over_the_size_limit_is_too_large(api: Api) -> None:
    """A 5 MB doc, or a text that escapes past what one _schemas record holds, is 422/42209."""
    subject = unique("huge-value")
    for schema in (
        record("Doc", ("a", "int"), doc="x" * 5_000_000),
        record("Quotes", ("a", "int"), doc='"' * 600_000),  # 1.2 MB once escaped in the record
    ):
        status, answer = await post_large(api, f"/subjects/{subject}/versions", body(schema))
        assert (status, answer["error_code"]) == (422, TOO_LARGE), answer
    padded = {"schema": " " * MAX_TEXT_LENGTH + json.dumps(record("Pad", ("a", "int")))}
    status, answer = await post_large(api, f"/subjects/{subject}/versions", padded)
    assert (status, answer["error_code"]) == (422, TOO_LARGE)
    assert await api.call("GET", f"/subjects/{subject}/versions") == (
        404,
        {"error_code": 40401, "message": f"Subject '{subject}' not found."},
    )


async def test_a_schema_over_the_field_limit_is_too_large(api: Api) -> None:
    """One field past MAX_FIELDS is 422/42209, also to a compatibility check and a lookup."""
    subject = unique("wide-value")
    over = body(wide(MAX_FIELDS + 1))
    for path in (
        f"/subjects/{subject}/versions",
        f"/compatibility/subjects/{subject}/versions/latest",
    ):
        status, answer = await api.call("POST", path, over)
        assert (status, answer["error_code"]) == (422, TOO_LARGE), (path, answer)
        assert f"{MAX_FIELDS + 1} record fields" in answer["message"]


async def test_other_requests_answer_while_a_large_schema_is_checked(api: Api) -> None:
    """GET /subjects is answered again and again while the largest schema allowed is parsed and
    checked FULL against a first version as large (on a stalled loop no answer could come before
    the registration's)."""
    subject = unique("big-value")
    assert (await api.call("PUT", f"/config/{subject}", {"compatibility": "FULL"}))[0] == 200
    first = wide(MAX_FIELDS - 1)
    status, _ = await api.call("POST", f"/subjects/{subject}/versions", body(first))
    assert status == 200
    second = {**first, "fields": [*first["fields"], {"name": "added", "type": "int", "default": 0}]}

    registering = asyncio.create_task(
        api.call("POST", f"/subjects/{subject}/versions", body(second))
    )
    answered = 0
    while not registering.done():
        started = time.monotonic()
        async with asyncio.timeout(30):  # a guard against a hang, not a speed requirement
            status, _ = await api.call("GET", "/subjects")
        assert status == 200
        if not registering.done():
            answered += 1
        await asyncio.sleep(max(0.0, 0.05 - (time.monotonic() - started)))
    status, created = await registering
    assert status == 200 and created["version"] == 2
    assert answered >= 3  # the check took long enough for several answers, and they came
