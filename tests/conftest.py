"""Session fixtures: one real broker and one real Schema Registry for the whole run.

``--broker noida`` (default), ``--broker kafka`` (Apache Kafka, one KRaft node) or ``--broker
tansu`` starts that broker as a child process; ``--kafka-bootstrap`` and ``--schema-registry-url``
use running ones instead and start nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shop.children import ChildProcess, noida_broker, schema_registry
from tests.brokers import free_port, kafka_broker, kafka_missing, kafka_nodes, tansu_broker


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("shop")
    group.addoption(
        "--broker",
        choices=["noida", "kafka", "tansu"],
        default="noida",
        help="which Kafka-compatible broker the session starts",
    )
    group.addoption(
        "--kafka-bootstrap", default=None, help="use this running broker instead of starting one"
    )
    group.addoption(
        "--schema-registry-url",
        default=None,
        help="use this running Schema Registry instead of starting one",
    )


def broker_kind(config: pytest.Config) -> str:
    return (
        "external" if config.getoption("--kafka-bootstrap") else str(config.getoption("--broker"))
    )


def pytest_configure(config: pytest.Config) -> None:
    if broker_kind(config) == "kafka" and (missing := kafka_missing()) is not None:
        raise pytest.UsageError(f"--broker kafka: {missing}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kind = broker_kind(config)
    if kind != "kafka":
        skip_cluster = pytest.mark.skip(reason="starts an Apache Kafka cluster: the kafka run")
        for item in items:
            if "cluster" in item.keywords:
                item.add_marker(skip_cluster)
    if kind == "kafka":
        skip_embedded = pytest.mark.skip(reason="starts its own noida-db; the noida run covers it")
        for item in items:
            if "embedded" in item.keywords:
                item.add_marker(skip_embedded)
    if kind != "tansu":
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
    child, bootstrap = broker_of_kind(broker_kind(pytestconfig), run_dir)
    async with child.running():
        yield bootstrap


def broker_of_kind(kind: str, directory: Path) -> tuple[ChildProcess, str]:
    """A new broker of ``kind`` keeping what it must under ``directory``, and its address."""
    if kind == "kafka":
        node = kafka_nodes(directory, 1)[0]
        return kafka_broker(node, [node]), node.bootstrap
    port = free_port()
    if kind == "tansu":
        return tansu_broker("127.0.0.1", port, directory / "tansu.log"), f"127.0.0.1:{port}"
    broker = noida_broker("127.0.0.1", port, directory / "noida", directory / "noida.log")
    return broker, f"127.0.0.1:{port}"


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
