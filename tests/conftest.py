"""Session fixtures: one real broker and one real Schema Registry for the whole run.

``--broker noida`` (default) or ``--broker tansu`` starts that broker as a child process;
``--kafka-bootstrap`` and ``--schema-registry-url`` use running ones instead and start nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shop.children import free_port, noida_broker, schema_registry, tansu_broker


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("shop")
    group.addoption("--broker", choices=["noida", "tansu"], default="noida",
                    help="which Kafka-compatible broker the session starts")  # fmt: skip
    group.addoption("--kafka-bootstrap", default=None,
                    help="use this running broker instead of starting one")  # fmt: skip
    group.addoption("--schema-registry-url", default=None,
                    help="use this running Schema Registry instead of starting one")  # fmt: skip


def broker_kind(config: pytest.Config) -> str:
    return "external" if config.getoption("--kafka-bootstrap") else str(config.getoption("--broker"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if broker_kind(config) != "tansu":
        return
    skip_idem = pytest.mark.skip(reason="tansu has no idempotent producer")
    skip_persist = pytest.mark.skip(reason="tansu keeps nothing across a restart")
    skip_embedded = pytest.mark.skip(reason="starts its own noida-db; the noida run covers it")
    for item in items:
        if "embedded" in item.keywords:
            item.add_marker(skip_embedded)
        if "idempotence" in item.keywords:
            item.add_marker(skip_idem)
        if "persistence" in item.keywords:
            item.add_marker(skip_persist)


@pytest.fixture(scope="session")
def kafka_idempotence(pytestconfig: pytest.Config) -> bool:
    """Whether the session's broker supports aiokafka's idempotent producer."""
    return broker_kind(pytestconfig) != "tansu"


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Logs and data of the children this session starts."""
    return tmp_path_factory.mktemp("children")


@pytest.fixture(scope="session")
async def bootstrap_servers(pytestconfig: pytest.Config, run_dir: Path) -> AsyncIterator[str]:
    external = pytestconfig.getoption("--kafka-bootstrap")
    if external:
        yield str(external)
        return
    port = free_port()
    if broker_kind(pytestconfig) == "tansu":
        child = tansu_broker("127.0.0.1", port, run_dir / "tansu.log")
    else:
        child = noida_broker("127.0.0.1", port, run_dir / "noida", run_dir / "noida.log")
    async with child.running():
        yield f"127.0.0.1:{port}"


@pytest.fixture(scope="session")
async def registry_url(
    pytestconfig: pytest.Config, bootstrap_servers: str, run_dir: Path
) -> AsyncIterator[str]:
    external = pytestconfig.getoption("--schema-registry-url")
    if external:
        yield str(external).rstrip("/")
        return
    port = free_port()
    child = schema_registry("127.0.0.1", port, bootstrap_servers, run_dir / "registry.log")
    async with child.running():
        yield f"http://127.0.0.1:{port}"
