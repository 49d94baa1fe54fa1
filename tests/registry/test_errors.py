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
    status, error = await api.call(
        "POST", f"/subjects/{subject}/versions", {"schema": '{"type": "recrod"}'}
    )
    assert (status, error["error_code"]) == (422, 42201)
    assert subject not in (await api.call("GET", "/subjects?deleted=true"))[1]


@pytest.mark.parametrize(
    "payload",
    [
        {"schema": "{}", "schemaType": "JSON"},
        {
            "schema": json.dumps(record("R", ("x", "int"))),
            "references": [{"name": "a", "subject": "b", "version": 1}],
        },
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
        "POST",
        f"/subjects/{subject}/versions",
        data="{not json",
        headers={"Content-Type": "application/json"},
    )
    assert (status, error["error_code"]) == (400, 400)


async def test_wrong_content_type_is_415(api: Api) -> None:
    """Only the Schema Registry and JSON content types are accepted."""
    subject = unique("ct-value")
    status, error = await api.call(
        "POST",
        f"/subjects/{subject}/versions",
        data=json.dumps(body(record("C", ("x", "int")))),
        headers={"Content-Type": "text/plain"},
    )
    assert (status, error) == (
        415,
        {"error_code": 415, "message": "HTTP 415 Unsupported Media Type"},
    )


@pytest.mark.parametrize(
    "content_type",
    ["application/vnd.schemaregistry+json", "application/json", "application/octet-stream"],
)
async def test_accepted_content_types(api: Api, content_type: str) -> None:
    """Every content type Confluent accepts registers a schema."""
    subject = unique("okct-value")
    status, _ = await api.call(
        "POST",
        f"/subjects/{subject}/versions",
        data=json.dumps(body(record("K", ("x", "int")))),
        headers={"Content-Type": content_type},
    )
    assert status == 200


async def test_huge_body_is_413(api: Api) -> None:
    """A body over the size limit is refused with a JSON 413."""
    subject = unique("huge-value")
    huge = json.dumps({"schema": json.dumps(record("H", ("x", "int"), doc="x" * (17 * 2**20)))})
    status, error = await api.call(
        "POST",
        f"/subjects/{subject}/versions",
        data=io.BytesIO(huge.encode()),
        headers={"Content-Type": "application/json"},
    )
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
    status, error = await api.call(
        "POST", "/subjects/bad%01name/versions", body(record("S", ("x", "int")))
    )
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
    status, error = await api.call(
        "POST", f"/subjects/{subject}", body(record("Other", ("x", "int")))
    )
    assert (status, error) == (404, {"error_code": 40403, "message": "Schema not found"})


async def test_unknown_url_and_method_are_json(api: Api) -> None:
    """aiohttp's own 404 and 405 come back in Confluent's error shape."""
    assert await api.call("GET", "/no/such/thing") == (
        404,
        {"error_code": 404, "message": "HTTP 404 Not Found"},
    )
    assert await api.call("PATCH", "/subjects") == (
        405,
        {"error_code": 405, "message": "HTTP 405 Method Not Allowed"},
    )


def field_schema(kind: object, **extra: object) -> dict[str, str]:
    """A record with one field ``f`` of ``kind``; extra keys (a default) go on the field."""
    return {
        "schema": json.dumps(
            {"type": "record", "name": "F", "fields": [{"name": "f", "type": kind, **extra}]}
        )
    }


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("int", {"default": "zero"}),
        ("int", {"default": 2**40}),
        ("int", {"default": None}),
        ("long", {"default": 1.5}),
        ("string", {"default": 1}),
        ("boolean", {"default": 0}),
        (["null", "string"], {"default": "first branch is null"}),
        ({"type": "enum", "name": "E", "symbols": ["A"]}, {"default": "B"}),
        ({"type": "array", "items": "int"}, {"default": ["x"]}),
        ({"type": "map", "values": "int"}, {"default": {"k": "v"}}),
        ({"type": "fixed", "name": "Two", "size": 2}, {"default": "abc"}),
        (
            {"type": "record", "name": "In", "fields": [{"name": "a", "type": "int"}]},
            {"default": {}},
        ),
        ("int", {"name": "bad-name"}),
        ({"type": "bytes", "logicalType": "decimal", "precision": 2, "scale": 5}, {}),
        ({"type": "bytes", "logicalType": "decimal"}, {}),
        (
            {
                "type": "fixed",
                "name": "Small",
                "size": 1,
                "logicalType": "decimal",
                "precision": 20,
            },
            {},
        ),
    ],
)
async def test_invalid_fields_are_42201(api: Api, kind: object, extra: dict[str, object]) -> None:
    """Defaults of the wrong type, invalid field names and impossible decimals are invalid."""
    subject = unique("badfield-value")
    status, error = await api.call(
        "POST", f"/subjects/{subject}/versions", field_schema(kind, **extra)
    )
    assert (status, error["error_code"]) == (422, 42201), error
    assert subject not in (await api.call("GET", "/subjects?deleted=true"))[1]


@pytest.mark.parametrize(
    ("kind", "default"),
    [
        ("long", 2**40),
        ("double", 1),
        ("bytes", "\u00ff"),
        (["null", "string"], None),
        (["string", "null"], "x"),
        (
            {
                "type": "record",
                "name": "In",
                "fields": [{"name": "a", "type": "int", "default": 1}],
            },
            {},
        ),
        ({"type": "map", "values": "long"}, {"k": 1}),
        ({"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}, "\u0000"),
    ],
)
async def test_valid_defaults_are_accepted(api: Api, kind: object, default: object) -> None:
    """Defaults that match their field's type (first union branch, JSON-encoded bytes) register."""
    subject = unique("okdefault-value")
    status, _ = await api.call(
        "POST", f"/subjects/{subject}/versions", field_schema(kind, default=default)
    )
    assert status == 200


async def test_unknown_logical_type_is_kept(api: Api) -> None:
    """A logical type this registry does not know is accepted: readers ignore it, as Avro says."""
    subject = unique("logical-value")
    status, _ = await api.call(
        "POST",
        f"/subjects/{subject}/versions",
        field_schema({"type": "int", "logicalType": "event-time"}),
    )
    assert status == 200


@pytest.mark.parametrize(
    "raw",
    [
        '{"schema":' + "[" * 100_000 + "]" * 100_000 + "}",
        json.dumps({"schema": "[" * 100_000 + "]" * 100_000}),
        json.dumps(
            {
                "schema": '{"type":"record","name":"N","fields":'
                '[{"name":"d","type":"double","default":NaN}]}'
            }
        ),
        '{"schema": "\\"string\\"", "extra": NaN}',
    ],
    ids=["nested-body", "nested-schema", "nan-in-schema", "nan-in-body"],
)
async def test_hostile_json_is_a_clear_error(api: Api, raw: str) -> None:
    """Deeply nested JSON and non-standard constants are refused with 400 or 42201, never 500."""
    subject = unique("hostile-value")
    status, error = await api.call(
        "POST",
        f"/subjects/{subject}/versions",
        data=raw,
        headers={"Content-Type": "application/json"},
    )
    assert (status, error["error_code"]) in ((400, 400), (422, 42201)), error
    assert subject not in (await api.call("GET", "/subjects?deleted=true"))[1]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(b"\xff\xfe{}", "application/json"), (b"{}", "application/json; charset=no-such-charset")],
    ids=["invalid-utf8", "unknown-charset"],
)
async def test_undecodable_body_is_400(api: Api, data: bytes, content_type: str) -> None:
    """A body that cannot be decoded as text is a 400, not a server error."""
    subject = unique("bytes-value")
    status, error = await api.call(
        "POST", f"/subjects/{subject}/versions", data=data, headers={"Content-Type": content_type}
    )
    assert (status, error["error_code"]) == (400, 400)


@pytest.mark.parametrize("schema", [{"type": "string"}, 5, None, ["x"]])
async def test_schema_that_is_not_a_string_is_42201(api: Api, schema: object) -> None:
    """The schema must be a JSON string holding the schema, not the schema itself."""
    subject = unique("notstr-value")
    status, error = await api.call("POST", f"/subjects/{subject}/versions", {"schema": schema})
    assert (status, error["error_code"]) == (422, 42201)


async def test_version_and_id_must_be_plain_integers(api: Api) -> None:
    """Versions and ids are read as Java's Integer.parseInt reads them, not as Python's int():
    no underscores; versions are trimmed first (VersionId), ids are not."""
    subject = unique("plainint-value")
    _, created = await api.call(
        "POST", f"/subjects/{subject}/versions", body(record("P", ("x", "int")))
    )
    for bad in ("1_0", "0", "-2", "1.0", str(2**31)):
        status, error = await api.call("GET", f"/subjects/{subject}/versions/{bad}")
        assert (status, error["error_code"]) == (422, 42202), bad
    for one in ("01", "+1", "%201", "1%20", "%D9%A1", "LATEST", "-1"):
        assert (await api.call("GET", f"/subjects/{subject}/versions/{one}"))[0] == 200, one
    schema_id = created["id"]
    # not a Java int: no resource matches, as with Confluent's Integer path parameter
    for bad in (f"{schema_id}_0", f"%20{schema_id}", "abc", str(2**31), str(2**64), "9" * 5000):
        status, error = await api.call("GET", f"/schemas/ids/{bad}")
        assert (status, error) == (404, {"error_code": 404, "message": "HTTP 404 Not Found"}), bad
    # a Java int that is no schema's id
    for missing in ("0", "-1", str(2**31 - 1)):
        status, error = await api.call("GET", f"/schemas/ids/{missing}")
        assert (status, error["error_code"]) == (404, 40403), missing
    status, error = await api.call("DELETE", f"/subjects/{subject}/versions/{'9' * 5000}")
    assert (status, error["error_code"]) == (422, 42202)


async def test_a_schema_that_could_not_be_stored_as_json_is_invalid(api: Api) -> None:
    """A lone surrogate (which UTF-8 cannot carry) and a number past a double's range (which
    would be written back as Infinity) are 422/42201, not a 500 or a text no reader takes."""
    subject = unique("unstorable-value")
    surrogate = '{"type":"record","name":"S","doc":"\\ud800","fields":[]}'
    huge = '{"type":"record","name":"H","fields":[{"name":"d","type":"double","default":1e400}]}'
    for text in (surrogate, huge):
        status, error = await api.call("POST", f"/subjects/{subject}/versions", {"schema": text})
        assert (status, error["error_code"]) == (422, 42201), text


async def test_reserved_subjects_and_digits_java_does_not_read(api: Api) -> None:
    """__GLOBAL and __EMPTY are Confluent's own names (42208); a digit outside the Basic
    Multilingual Plane is no digit to Java's parseInt (422/42202 as a version, 404 as an id)."""
    schema = body(record("Reserved", ("x", "int")))
    for reserved in ("__GLOBAL", "__EMPTY"):
        status, error = await api.call("POST", f"/subjects/{reserved}/versions", schema)
        assert (status, error["error_code"]) == (422, 42208), reserved
    subject = unique("bmp-value")
    assert (await api.call("POST", f"/subjects/{subject}/versions", schema))[0] == 200
    bold_one = "\N{MATHEMATICAL BOLD DIGIT ONE}"
    status, error = await api.call("GET", f"/subjects/{subject}/versions/{bold_one}")
    assert (status, error["error_code"]) == (422, 42202)
    status, error = await api.call("GET", f"/schemas/ids/{bold_one}")
    assert (status, error["error_code"]) == (404, 404)
