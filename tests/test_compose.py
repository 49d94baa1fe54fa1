"""compose.yaml cannot run here (no Docker engine); these tests keep it consistent with the code."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from shop import settings
from shop.orders.openapi import DOCUMENT as ORDERS_DOCUMENT

ROOT = Path(__file__).resolve().parents[1]
SHOPS = ("shop", "shop-2")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def listeners(value: str) -> dict[str, str]:
    """``NAME://host:port,…`` as {NAME: "host:port"}."""
    return dict(item.split("://", 1) for item in value.split(","))


def test_services_are_kafka_registry_and_shop(compose: dict[str, Any]) -> None:
    """compose runs Apache Kafka, Confluent Schema Registry and two instances of the shop image
    built from here."""
    services = compose["services"]
    assert set(services) == {"kafka", "schema-registry", *SHOPS}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["schema-registry"]["image"].startswith("confluentinc/cp-schema-registry:")
    assert all(services[shop]["build"] == "." for shop in SHOPS)
    assert (ROOT / "Dockerfile").is_file()


@pytest.mark.parametrize("shop", SHOPS)
def test_shop_environment_is_valid_configuration(compose: dict[str, Any], shop: str) -> None:
    """Every SHOP_* variable compose sets is one the service reads, with a value it accepts, and
    each instance advertises its APIs under its own service name and container ports."""
    env = {k: str(v) for k, v in compose["services"][shop]["environment"].items()}
    known = {settings.env_key(f.name) for f in settings.dataclasses.fields(settings.Settings)}
    assert set(env) <= known, f"unknown settings: {set(env) - known}"
    loaded = settings.load([], env)
    assert not loaded.embedded
    assert loaded.host == "0.0.0.0"
    published = {port.split(":")[1] for port in compose["services"][shop]["ports"]}
    assert published == {str(loaded.cart_port), str(loaded.orders_port)}
    assert loaded.advertised_cart_url == f"http://{shop}:{loaded.cart_port}"
    assert loaded.advertised_orders_url == f"http://{shop}:{loaded.orders_port}"


def test_the_instances_form_one_group_on_one_topic(compose: dict[str, Any]) -> None:
    """Both instances read one topic in one consumer group, which spreads the partitions over
    them, and publish different host ports."""
    loaded = [
        settings.load([], {k: str(v) for k, v in compose["services"][shop]["environment"].items()})
        for shop in SHOPS
    ]
    assert len({(s.topic, s.consumer_group, s.topic_partitions) for s in loaded}) == 1
    assert loaded[0].topic_partitions >= len(SHOPS)
    host_ports = [
        port.split(":")[0] for shop in SHOPS for port in compose["services"][shop]["ports"]
    ]
    assert len(host_ports) == len(set(host_ports))


def test_shop_and_registry_reach_the_broker_on_its_internal_listener(
    compose: dict[str, Any],
) -> None:
    """Both clients bootstrap from a listener Kafka binds and advertises under its service name."""
    kafka_env = compose["services"]["kafka"]["environment"]
    bound = listeners(kafka_env["KAFKA_LISTENERS"])
    advertised = listeners(kafka_env["KAFKA_ADVERTISED_LISTENERS"])
    protocols = dict(
        item.split(":") for item in kafka_env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    internal = {name for name, address in advertised.items() if address.startswith("kafka:")}
    assert len(internal) == 1
    (name,) = internal
    port = advertised[name].split(":")[1]
    assert bound[name] == f":{port}"
    assert protocols[name] == "PLAINTEXT"
    assert kafka_env["KAFKA_INTER_BROKER_LISTENER_NAME"] == name

    for shop in SHOPS:
        shop_env = compose["services"][shop]["environment"]
        assert shop_env["SHOP_KAFKA_BOOTSTRAP_SERVERS"] == f"kafka:{port}"
    registry_env = compose["services"]["schema-registry"]["environment"]
    assert (
        registry_env["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"] == f"PLAINTEXT://kafka:{port}"
    )
    registry_port = registry_env["SCHEMA_REGISTRY_LISTENERS"].rsplit(":", 1)[1]
    assert shop_env["SHOP_SCHEMA_REGISTRY_URL"] == f"http://schema-registry:{registry_port}"


def test_kraft_settings_are_well_formed(compose: dict[str, Any]) -> None:
    """A one-node KRaft quorum: the voter is this node, and the cluster id is a base64url UUID."""
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert listeners(env["KAFKA_LISTENERS"])[env["KAFKA_CONTROLLER_LISTENER_NAMES"]] == ":9093"
    cluster_id = env["CLUSTER_ID"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id)
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    # The image declares /var/lib/kafka/data a volume owned by its user; data must live there.
    assert env["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    assert "kafka-data:/var/lib/kafka/data" in compose["services"]["kafka"]["volumes"]


def test_shop_starts_after_healthy_dependencies(compose: dict[str, Any]) -> None:
    """The service waits for a healthy broker and registry instead of crashing into them."""
    services = compose["services"]
    for dependency in ("kafka", "schema-registry"):
        for shop in SHOPS:
            assert services[shop]["depends_on"][dependency]["condition"] == "service_healthy"
        assert "healthcheck" in services[dependency]


@pytest.mark.parametrize("shop", SHOPS)
def test_shop_is_healthy_when_ready_for_traffic(compose: dict[str, Any], shop: str) -> None:
    """Each instance's healthcheck asks its orders port's /readyz, a route that port serves."""
    command = " ".join(compose["services"][shop]["healthcheck"]["test"])
    url = re.search(r"http://localhost:(\d+)(/\w+)", command)
    assert url is not None, command
    port = compose["services"][shop]["environment"]["SHOP_ORDERS_PORT"]
    assert (url[1], url[2]) == (port, "/readyz")
    assert "/readyz" in ORDERS_DOCUMENT["paths"]
