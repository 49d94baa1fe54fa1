"""Helpers for talking to the registry under test over plain HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class Api:
    """A tiny HTTP client answering (status, parsed JSON body)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url

    async def call(
        self, method: str, path: str, body: Any = None, **kwargs: Any
    ) -> tuple[int, Any]:
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs.setdefault("headers", {"Content-Type": CONTENT_TYPE})
        async with self.session.request(method, self.base_url + path, **kwargs) as response:
            return response.status, json.loads(await response.text())


@pytest.fixture(scope="session")
async def api(registry_url: str) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, registry_url)


def record(name: str, *fields: tuple[str, Any], **extra: Any) -> dict[str, Any]:
    """An Avro record schema with ``(name, type)`` fields; extra keys go on the last field."""
    built = [{"name": field, "type": kind} for field, kind in fields]
    if extra and built:
        built[-1].update(extra)
    return {"type": "record", "name": name, "fields": built}


def body(schema: dict[str, Any]) -> dict[str, str]:
    return {"schema": json.dumps(schema)}
