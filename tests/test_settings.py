"""Configuration is read once; a bad value fails start-up naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from shop.settings import Settings, SettingsError, load


def test_defaults_run_the_embedded_stack() -> None:
    """With nothing configured the service starts its own broker and registry on the usual ports."""
    settings = load([], {})
    assert settings == Settings()
    assert settings.embedded
    assert (settings.cart_port, settings.orders_port) == (8000, 8001)
    assert settings.topic == "order-events"


def test_environment_and_flags_are_read_and_flags_win() -> None:
    """Each SHOP_* variable has a flag; the flag wins where both are given."""
    env = {
        "SHOP_KAFKA_BOOTSTRAP_SERVERS": "broker:9092",
        "SHOP_SCHEMA_REGISTRY_URL": "http://registry:8081/",
        "SHOP_CART_PORT": "9000",
        "SHOP_KAFKA_IDEMPOTENCE": "False",
        "SHOP_DATA_DIR": "/var/lib/shop",
    }
    settings = load(["--cart-port", "9100", "--topic-partitions", "6"], env)
    assert settings.kafka_bootstrap_servers == "broker:9092"
    assert settings.schema_registry_url == "http://registry:8081"
    assert settings.cart_port == 9100
    assert settings.topic_partitions == 6
    assert settings.kafka_idempotence is False
    assert settings.data_dir == Path("/var/lib/shop")
    assert not settings.embedded


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SHOP_CART_PORT": "eighty"}, "SHOP_CART_PORT must be a whole number"),
        ({"SHOP_ORDERS_PORT": "70000"}, "SHOP_ORDERS_PORT must be a port number"),
        ({"SHOP_TOPIC_PARTITIONS": "0"}, "SHOP_TOPIC_PARTITIONS must be at least 1"),
        ({"SHOP_KAFKA_IDEMPOTENCE": "maybe"}, "SHOP_KAFKA_IDEMPOTENCE must be true or false"),
        ({"SHOP_REQUEST_TIMEOUT_S": "-1"}, "SHOP_REQUEST_TIMEOUT_S must be more than 0"),
        ({"SHOP_LOG_LEVEL": "loud"}, "SHOP_LOG_LEVEL must be DEBUG"),
        ({"SHOP_TOPIC": " "}, "SHOP_TOPIC must not be empty"),
        (
            {"SHOP_EMBEDDED_KAFKA_PORT": "0"},
            "SHOP_EMBEDDED_KAFKA_PORT must be a port number from 1",
        ),
        ({"SHOP_CART_PORT": "8001"}, "must differ"),
        ({"SHOP_KAFKA_BOOTSTRAP_SERVERS": "b:9092"}, "SHOP_SCHEMA_REGISTRY_URL must be set"),
        ({"SHOP_SCHEMA_REGISTRY_URL": "http://r:8081"}, "needs SHOP_KAFKA_BOOTSTRAP_SERVERS"),
        (
            {"SHOP_KAFKA_BOOTSTRAP_SERVERS": "b:9092", "SHOP_SCHEMA_REGISTRY_URL": "registry:8081"},
            "SHOP_SCHEMA_REGISTRY_URL must be an http:// or https:// URL",
        ),
    ],
)
def test_bad_values_name_their_key(env: dict[str, str], message: str) -> None:
    """A malformed value is refused with a message that names the variable."""
    with pytest.raises(SettingsError, match=message):
        load([], env)


def test_bad_flag_names_the_flag() -> None:
    """A malformed flag value is refused naming the flag, not the variable."""
    with pytest.raises(SettingsError, match="--orders-port must be a whole number"):
        load(["--orders-port", "x"], {})
