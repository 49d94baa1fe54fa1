"""Bad input gets Confluent's JSON errors and leaves the stored state untouched."""

from __future__ import annotations

import io
import json

import pytest

from tests.registry.conftest import Api, body, record
from tests.waiting import unique


async def test_invalid_avro_is_42201_and_stores_nothing(api: Api) -> None:
    """An invalid schema is 42201 and the subject does not appear."""
    subject = unique("bad-value")
    status, error = await api.call("POST", f"/subjects/{subject}/versions", {"schema": '{"type": "recrod"}'})
    assert (status, error["error_code"]) == (422, 42201)
    assert subject not in (await api.call("GET", "/subjects?deleted=true"))[1]


@pytest.mark.parametrize(
    "payload",
    [
        {"schema": "{}", "schemaType": "JSON"},
        {"schema": json.dumps(record("R", ("x", "int"))), "references": [{"name": "a", "subject": "b", "version": 1}]},
        {"schema": ""},
        {"nothing": 1},
    ],
)
async def test_unsupported_schemas_are_42201(api: Api, payload: dict[str, object]) -> None:
    """Non-AVRO types, references and missing schemas are invalid schemas here."""
    subject = unique("unsup-value")
    status, error = await api.call("POST", f"/subjects/{subject}/versions", payload)
    assert (status, error["error_code"]) == (422, 42201)


async def test_malformed_json_is_400(api: Api) -> None:
    """A body that is not JSON is refused with a JSON error."""
    subject = unique("json-value")
    status, error = await api.call(
        "POST", f"/subjects/{subject}/versions", data="{not json",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert (status, error["error_code"]) == (400, 400)


async def test_wrong_content_type_is_415(api: Api) -> None:
    """Only the Schema Registry and JSON content types are accepted."""
    subject = unique("ct-value")
    status, error = await api.call(
        "POST", f"/subjects/{subject}/versions", data=json.dumps(body(record("C", ("x", "int")))),
        headers={"Content-Type": "text/plain"},
    )  # fmt: skip
    assert (status, error) == (415, {"error_code": 415, "message": "HTTP 415 Unsupported Media Type"})


@pytest.mark.parametrize(
    "content_type",
    ["application/vnd.schemaregistry+json", "application/json", "application/octet-stream"],
)
async def test_accepted_content_types(api: Api, content_type: str) -> None:
    """Every content type Confluent accepts registers a schema."""
    subject = unique("okct-value")
    status, _ = await api.call(
        "POST", f"/subjects/{subject}/versions", data=json.dumps(body(record("K", ("x", "int")))),
        headers={"Content-Type": content_type},
    )  # fmt: skip
    assert status == 200


async def test_huge_body_is_413(api: Api) -> None:
    """A body over the size limit is refused with a JSON 413."""
    subject = unique("huge-value")
    huge = json.dumps({"schema": json.dumps(record("H", ("x", "int"), doc="x" * (17 * 2**20)))})
    status, error = await api.call(
        "POST", f"/subjects/{subject}/versions", data=io.BytesIO(huge.encode()),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert (status, error["error_code"]) == (413, 413)
    assert subject not in (await api.call("GET", "/subjects?deleted=true"))[1]


async def test_invalid_version_is_42202(api: Api) -> None:
    """Versions are positive integers, latest or -1."""
    subject = unique("ver-value")
    await api.call("POST", f"/subjects/{subject}/versions", body(record("V", ("x", "int"))))
    for bad in ("0", "abc", "-2", "2147483648"):
        status, error = await api.call("GET", f"/subjects/{subject}/versions/{bad}")
        assert (status, error["error_code"]) == (422, 42202), bad


async def test_control_characters_in_subject_are_refused(api: Api) -> None:
    """A subject with control characters is refused and not stored."""
    status, error = await api.call("POST", "/subjects/bad%01name/versions", body(record("S", ("x", "int"))))
    assert (status, error["error_code"]) == (422, 42208)
    assert "bad\x01name" not in (await api.call("GET", "/subjects?deleted=true"))[1]


async def test_not_found_codes(api: Api) -> None:
    """Unknown subject, version and id answer 40401, 40402 and 40403."""
    subject = unique("nf-value")
    status, error = await api.call("GET", f"/subjects/{subject}/versions/1")
    assert (status, error["error_code"]) == (404, 40401)
    await api.call("POST", f"/subjects/{subject}/versions", body(record("N", ("x", "int"))))
    status, error = await api.call("GET", f"/subjects/{subject}/versions/9")
    assert (status, error) == (404, {"error_code": 40402, "message": "Version 9 not found."})
    status, error = await api.call("GET", "/schemas/ids/987654321")
    assert (status, error) == (404, {"error_code": 40403, "message": "Schema 987654321 not found"})
    status, error = await api.call("POST", f"/subjects/{subject}", body(record("Other", ("x", "int"))))
    assert (status, error) == (404, {"error_code": 40403, "message": "Schema not found"})


async def test_unknown_url_and_method_are_json(api: Api) -> None:
    """aiohttp's own 404 and 405 come back in Confluent's error shape."""
    assert await api.call("GET", "/no/such/thing") == (404, {"error_code": 404, "message": "HTTP 404 Not Found"})
    assert await api.call("PATCH", "/subjects") == (
        405,
        {"error_code": 405, "message": "HTTP 405 Method Not Allowed"},
    )
