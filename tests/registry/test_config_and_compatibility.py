"""Global and per-subject compatibility config, and every compatibility level."""

from __future__ import annotations

from typing import Any

import pytest

from tests.registry.conftest import Api, body, record
from tests.waiting import unique

# Schemas of one record type; each pair shows which direction of reading works.
V1 = ("x", "int")
WITH_DEFAULT = ("y", "string")


def schemas(name: str) -> dict[str, dict[str, Any]]:
    return {
        "base": record(name, V1),
        "added_with_default": record(name, V1, WITH_DEFAULT, default=""),
        "added_without_default": record(name, V1, WITH_DEFAULT),
        "removed": record(name, ("y", "string"), default=""),
    }


async def test_global_config_defaults_to_backward(api: Api) -> None:
    """GET /config answers the global level, BACKWARD unless someone changed it."""
    status, config = await api.call("GET", "/config")
    assert status == 200 and set(config) == {"compatibilityLevel"}


async def test_subject_config_put_get_delete(api: Api) -> None:
    """A subject's own level is set, read, falls back with defaultToGlobal, and is deleted."""
    subject = unique("cfg-value")
    status, error = await api.call("GET", f"/config/{subject}")
    assert (status, error["error_code"]) == (404, 40408)
    _, global_config = await api.call("GET", "/config")
    assert await api.call("GET", f"/config/{subject}?defaultToGlobal=True") == (200, global_config)
    assert await api.call("PUT", f"/config/{subject}", {"compatibility": "full"}) == (
        200,
        {"compatibility": "FULL"},
    )
    assert await api.call("GET", f"/config/{subject}") == (200, {"compatibilityLevel": "FULL"})
    assert await api.call("DELETE", f"/config/{subject}") == (200, {"compatibilityLevel": "FULL"})
    assert (await api.call("GET", f"/config/{subject}"))[0] == 404


async def test_invalid_level_is_42203(api: Api) -> None:
    """An unknown compatibility level is refused and nothing changes."""
    subject = unique("badcfg-value")
    status, error = await api.call("PUT", f"/config/{subject}", {"compatibility": "SIDEWAYS"})
    assert (status, error["error_code"]) == (422, 42203)
    assert (await api.call("GET", f"/config/{subject}"))[0] == 404


@pytest.mark.parametrize(
    ("level", "change", "allowed"),
    [
        ("BACKWARD", "added_with_default", True),
        ("BACKWARD", "added_without_default", False),
        ("BACKWARD", "removed", True),
        ("FORWARD", "added_without_default", True),
        ("FORWARD", "removed", False),
        ("FULL", "added_with_default", True),
        ("FULL", "added_without_default", False),
        ("NONE", "added_without_default", True),
    ],
)
async def test_level_decides_registration(api: Api, level: str, change: str, allowed: bool) -> None:
    """Each level admits exactly the changes its direction of reading allows."""
    subject = unique("lvl-value")
    variants = schemas("L" + subject.replace("-", "_"))
    await api.call("PUT", f"/config/{subject}", {"compatibility": level})
    await api.call("POST", f"/subjects/{subject}/versions", body(variants["base"]))
    status, answer = await api.call("POST", f"/subjects/{subject}/versions", body(variants[change]))
    if allowed:
        assert status == 200 and set(answer) == {"id", "version", "guid"}
    else:
        assert status == 409 and answer["error_code"] == 409
        assert answer["message"].startswith("Schema being registered is incompatible")
        assert await api.call("GET", f"/subjects/{subject}/versions") == (200, [1])


@pytest.mark.parametrize(("level", "allowed"), [("BACKWARD", True), ("BACKWARD_TRANSITIVE", False)])
async def test_transitive_checks_every_version(api: Api, level: str, allowed: bool) -> None:
    """A third version that only the latest can accept passes BACKWARD, not BACKWARD_TRANSITIVE."""
    subject = unique("trans-value")
    name = "T" + subject.replace("-", "_")
    await api.call("PUT", f"/config/{subject}", {"compatibility": "NONE"})
    await api.call("POST", f"/subjects/{subject}/versions", body(record(name, ("x", "int"))))
    await api.call(
        "POST", f"/subjects/{subject}/versions", body(record(name, ("y", "int"), default=0))
    )
    await api.call("PUT", f"/config/{subject}", {"compatibility": level})
    third = record(name, ("y", "int"))  # reads the second version, not the first
    status, _ = await api.call("POST", f"/subjects/{subject}/versions", body(third))
    assert status == (200 if allowed else 409)


@pytest.mark.parametrize(
    ("level", "allowed"),
    [("FORWARD", True), ("FORWARD_TRANSITIVE", False), ("FULL_TRANSITIVE", False)],
)
async def test_forward_and_full_transitive(api: Api, level: str, allowed: bool) -> None:
    """Transitive forward checks make every old reader read the new data."""
    subject = unique("ftrans-value")
    name = "F" + subject.replace("-", "_")
    await api.call("PUT", f"/config/{subject}", {"compatibility": "NONE"})
    await api.call("POST", f"/subjects/{subject}/versions", body(record(name, ("x", "int"))))
    await api.call(
        "POST", f"/subjects/{subject}/versions", body(record(name, ("x", "int"), default=0))
    )
    await api.call("PUT", f"/config/{subject}", {"compatibility": level})
    third = record(name, ("z", "int"))  # the latest reader has a default for x; the first does not
    status, _ = await api.call("POST", f"/subjects/{subject}/versions", body(third))
    assert status == (200 if allowed else 409)


async def test_compatibility_endpoint(api: Api) -> None:
    """POST /compatibility answers is_compatible, with messages only when verbose."""
    subject = unique("chk-value")
    variants = schemas("C" + subject.replace("-", "_"))
    await api.call("POST", f"/subjects/{subject}/versions", body(variants["base"]))
    path = f"/compatibility/subjects/{subject}/versions"
    assert await api.call("POST", path + "/latest", body(variants["added_with_default"])) == (
        200,
        {"is_compatible": True},
    )
    assert await api.call("POST", path + "/1", body(variants["added_without_default"])) == (
        200,
        {"is_compatible": False},
    )
    status, verbose = await api.call(
        "POST", path + "?verbose=True", body(variants["added_without_default"])
    )
    assert status == 200 and verbose["is_compatible"] is False and len(verbose["messages"]) == 1
    status, error = await api.call("POST", path + "/7", body(variants["base"]))
    assert (status, error["error_code"]) == (404, 40402)
    # Confluent checks against nothing, so anything is compatible, before the first version
    status, answer = await api.call(
        "POST", f"/compatibility/subjects/{unique('none')}/versions/latest", body(variants["base"])
    )
    assert (status, answer) == (200, {"is_compatible": True})
