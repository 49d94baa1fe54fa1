"""Faults and hostile clients at the edges: small answers to big bodies, clients that go away,
undeclared bodies, and a broker that is gone."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from pathlib import Path

import aiohttp
import pytest

from shop.main import RunningService, running_service
from shop.settings import Settings
from tests.service.helpers import answer, create, fresh, own_broker
from tests.waiting import unique, wait_until

JSON = {"Content-Type": "application/json"}


async def test_a_body_of_90000_unknown_keys_gets_a_small_400(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """Under 1 MiB of unknown keys is a 400 of a few KB: 20 fields by name, the rest counted."""
    keys = {"a" * 500: 0} | {f"k{i}": 0 for i in range(90_000)}
    data = json.dumps(keys, separators=(",", ":")).encode()
    assert len(data) < 1024 * 1024
    async with http.post(f"{service.cart_url}/create-order", data=data, headers=JSON) as response:
        raw = await response.read()
        status, body = await answer(response)
    assert (status, body["error"]) == (400, "invalid_request")
    assert len(raw) < 4096, len(raw)
    assert len(body["fields"]) == 20
    assert "a" * 63 + "…" in body["fields"]  # the long name, clipped to 64 characters
    assert "90003 invalid fields" in body["message"]  # 90,001 unknown, orderId and itemsCount
    assert "89983 more" in body["message"]


async def test_a_body_with_many_repeated_keys_gets_a_small_400(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """Thousands of keys given twice are a 400 of a few KB, not an answer as large as the body."""
    pairs = ",".join(f'"k{i}":0,"k{i}":1' for i in range(30_000))
    async with http.post(
        f"{service.cart_url}/create-order", data=("{" + pairs + "}").encode(), headers=JSON
    ) as response:
        raw = await response.read()
        status, body = await answer(response)
    assert (status, body["error"]) == (400, "invalid_request")
    assert len(raw) < 4096, len(raw)
    assert len(body["fields"]) == 20
    assert "30000" in body["message"]


async def test_client_text_echoed_in_errors_is_clipped(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """A long path or content type comes back clipped to 64 characters with an ellipsis."""
    async with http.get(f"{service.cart_url}/{'p' * 5000}") as response:
        status, body = await answer(response)
    assert status == 404
    assert "/" + "p" * 62 + "…" in body["message"] and "p" * 63 not in body["message"]
    content_type = "application/" + "x" * 4000
    async with http.post(
        f"{service.cart_url}/create-order", data=b"{}", headers={"Content-Type": content_type}
    ) as response:
        status, body = await answer(response)
    assert status in (400, 415)
    assert "x" * 40 + "…" in body["message"] and "x" * 64 not in body["message"]


async def test_a_client_that_goes_away_mid_body_is_no_server_error(
    service: RunningService, caplog: pytest.LogCaptureFixture
) -> None:
    """Clients that announce 1000 bytes, send half and hang up are logged below ERROR, not a 500."""
    caplog.set_level(logging.DEBUG, logger="shop")
    host, port = service.cart_url.removeprefix("http://").split(":")
    order_ids = [unique("ORDER") for _ in range(5)]
    for order_id in order_ids:
        _, writer = await asyncio.open_connection(host, int(port))
        body = json.dumps({"orderId": order_id, "itemsCount": 1}).encode().ljust(1000)
        writer.write(
            b"POST /create-order HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n" + body[:500]
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def answered_all() -> bool:
        told = [r for r in caplog.records if "/create-order" in r.getMessage()]
        return len(told) >= len(order_ids)

    await wait_until(answered_all, what="the service to notice each client went away")
    errors = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.split(".")[0] in ("shop", "aiohttp")
    ]
    assert errors == []
    assert all(service.view.store.get(o) is None for o in order_ids)  # type: ignore[arg-type]


async def test_a_write_without_a_json_content_type_is_415(
    service: RunningService, http: aiohttp.ClientSession
) -> None:
    """A write whose Content-Type is missing, empty or octet-stream is 415; +json types are JSON."""
    order_id = unique("ORDER")
    writes = (
        ("POST", "/create-order", {"orderId": order_id, "itemsCount": 1}),
        ("PUT", "/update-order", {"orderId": order_id, "status": "confirmed"}),
    )
    for headers in ({}, {"Content-Type": ""}, {"Content-Type": "application/octet-stream"}):
        for method, path, body in writes:
            async with http.request(
                method,
                service.cart_url + path,
                data=json.dumps(body).encode(),
                headers=headers,
                skip_auto_headers=["Content-Type"],
            ) as response:
                status, answer_body = await answer(response)
            assert (status, answer_body["error"]) == (415, "unsupported_media_type"), headers
            assert "Content-Type: application/json" in answer_body["message"]
    assert service.view.store.get(order_id) is None  # type: ignore[arg-type]
    async with http.post(
        f"{service.cart_url}/create-order",
        data=json.dumps(writes[0][2]).encode(),
        headers={"Content-Type": "application/vnd.shop+json; charset=utf-8"},
    ) as response:
        status, _ = await answer(response)
    assert status == 201


# What aiokafka says: "NodeNotReadyError: ... (node id 1)", "[Error 45] OutOfOrderSequenceNumber".
RAW_KAFKA_TEXT = re.compile(r"Error|node id|[A-Z][a-z]+[A-Z][A-Za-z]*(Exception|Number)")


async def test_with_the_broker_stopped_a_write_is_503_at_once_in_plain_words(
    service_settings: Settings,
    http: aiohttp.ClientSession,
    pytestconfig: pytest.Config,
    tmp_path: Path,
) -> None:
    """With its broker stopped, a write is 503 in about a second, not at the 10 s timeout."""
    broker, bootstrap = own_broker(pytestconfig, tmp_path)
    settings = fresh(service_settings, kafka_bootstrap_servers=bootstrap, request_timeout_s=10.0)
    async with broker.running(), running_service(settings) as service:
        order = await create(http, service.cart_url, unique("ORDER"))
        await broker.stop()
        for method, path, body in (
            ("POST", "/create-order", {"orderId": unique("ORDER"), "itemsCount": 1}),
            ("PUT", "/update-order", {"orderId": order["orderId"], "status": "confirmed"}),
        ):
            started = time.monotonic()
            async with http.request(method, service.cart_url + path, json=body) as response:
                status, answer_body = await answer(response)
            took = time.monotonic() - started
            assert (status, answer_body["error"]) == (503, "kafka_unavailable"), answer_body
            assert took < 3.0, f"{method} {path} took {took:.1f} s"
            assert "try again later" in answer_body["message"]
            assert not RAW_KAFKA_TEXT.search(answer_body["message"]), answer_body["message"]
        await broker.start()  # so the service's own shutdown need not wait out its timeouts


async def test_with_the_broker_stopped_a_scan_is_503_in_plain_words(
    service_settings: Settings,
    http: aiohttp.ClientSession,
    pytestconfig: pytest.Config,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A request the broker fails is 503 in plain words; aiokafka's text goes to one log line."""
    broker, bootstrap = own_broker(pytestconfig, tmp_path)
    settings = fresh(service_settings, kafka_bootstrap_servers=bootstrap, request_timeout_s=3.0)
    async with broker.running(), running_service(settings) as service:
        await broker.stop()
        async with http.get(
            f"{service.orders_url}/getAllOrderIdsFromTopic", params={"topic": settings.topic}
        ) as response:
            status, body = await answer(response)
        await broker.start()
    assert (status, body["error"]) == (503, "kafka_unavailable"), body
    assert not RAW_KAFKA_TEXT.search(body["message"]), body["message"]
    assert "unreachable or refused" in body["message"]
    logged = [r for r in caplog.records if r.name == "shop.kafka" and r.levelno == logging.WARNING]
    assert any(RAW_KAFKA_TEXT.search(r.getMessage()) for r in logged), logged
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in logged)
