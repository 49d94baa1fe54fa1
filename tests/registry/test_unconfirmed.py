"""A write whose acknowledgement timed out (50001) but that landed later is seen by the next."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from shop.children import noida_broker
from tests.brokers import free_port
from tests.conftest import broker_kind
from tests.registry.conftest import body, record
from tests.registry.test_restart import registry_on
from tests.waiting import unique


async def test_ids_stay_unique_when_a_timed_out_write_lands_later(
    pytestconfig: pytest.Config, tmp_path: Path
) -> None:
    """Two schemas registered while the broker is paused never share an id once it resumes."""
    if broker_kind(pytestconfig) != "noida":
        pytest.skip("pauses a noida-db broker of its own")
    port = free_port()
    broker = noida_broker("127.0.0.1", port, tmp_path / "noida", tmp_path / "noida.log")
    async with broker.running(), registry_on(f"127.0.0.1:{port}", unique("_schemas"), 1.0) as api:
        first, second, third = (unique(f"s{n}-value") for n in (1, 2, 3))
        status, _ = await api.call(
            "POST", f"/subjects/{first}/versions", body(record("A", ("a", "int")))
        )
        assert status == 200
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGSTOP)  # the broker hears the write but cannot answer yet
        try:
            status, error = await api.call(
                "POST", f"/subjects/{second}/versions", body(record("B", ("b", "string")))
            )
            assert (status, error["error_code"]) == (500, 50001)
        finally:
            os.kill(broker.pid, signal.SIGCONT)
        status, created = await api.call(
            "POST", f"/subjects/{third}/versions", body(record("C", ("c", "long")))
        )
        assert status == 200
        status, by_id = await api.call("GET", f"/schemas/ids/{created['id']}")
        assert '"C"' in by_id["schema"]
        # The timed-out write either failed or landed late; if it landed, it has an id of its own.
        status, landed = await api.call("GET", f"/subjects/{second}/versions/1")
        if status == 200:
            assert landed["id"] != created["id"]
            assert '"B"' in landed["schema"]
        else:
            assert (status, landed["error_code"]) == (404, 40401)
