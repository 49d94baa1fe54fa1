"""Configuration, read once from the environment (prefix ``SHOP_``) and the command line.

Every setting has an environment variable and a matching flag; a flag wins over the variable.
Nothing below ``main`` reads ``os.environ``: it is handed the frozen :class:`Settings`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

# The rule Kafka applies to topic names (also used by the topic readers).
TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the key."""


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    # Empty means "start the embedded broker and registry".
    kafka_bootstrap_servers: str | None = None
    schema_registry_url: str | None = None
    host: str = "127.0.0.1"
    cart_port: int = 8000
    orders_port: int = 8001
    # Where the other instances of the group reach this one's APIs; None means
    # http://<host>:<port> (the machine's name when host is a wildcard address).
    advertised_cart_url: str | None = None
    advertised_orders_url: str | None = None
    topic: str = "order-events"
    topic_partitions: int = 3
    topic_replication_factor: int = 1
    consumer_group: str = "shop-orders"
    # tansu and some managed brokers refuse InitProducerId; switch off there.
    kafka_idempotence: bool = True
    # Upper bound on any single wait for the broker or the registry.
    request_timeout_s: float = 10.0
    data_dir: Path = Path(".shop-data")
    embedded_kafka_port: int = 9092
    embedded_registry_port: int = 8081
    log_level: str = "INFO"
    # "plain" lines for a terminal, or "json": one object per line for a log pipeline.
    log_format: str = "plain"
    # Where records the view cannot apply go; None means "<topic>.dlq".
    dead_letter_topic: str | None = None
    # Topics getAllOrderIdsFromTopic may read; empty means the order topic alone.
    scan_topics: tuple[str, ...] = ()
    # Bounds of one getAllOrderIdsFromTopic scan, and how many may run at once.
    scan_max_records: int = 200_000
    scan_concurrency: int = 2
    # On SIGTERM: how long requests in flight may still take before the process exits.
    shutdown_grace_s: float = 5.0

    @property
    def embedded(self) -> bool:
        """True when no broker is configured and ``python -m shop`` starts its own."""
        return self.kafka_bootstrap_servers is None

    @property
    def dead_letters(self) -> str:
        """The dead-letter topic of the order topic."""
        return self.dead_letter_topic or f"{self.topic}.dlq"

    @property
    def scannable_topics(self) -> frozenset[str]:
        """The topics getAllOrderIdsFromTopic may read."""
        return frozenset(self.scan_topics or (self.topic,))


def _parse_bool(key: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{key} must be true or false, not {raw!r}")


def _parse_port(key: str, raw: str) -> int:
    port = _parse_int(key, raw)
    if not 0 <= port <= 65535:
        raise SettingsError(f"{key} must be a port number from 0 to 65535, not {raw!r}")
    return port


def _parse_fixed_port(key: str, raw: str) -> int:
    """A port that must be known in advance (0, "any free port", is not)."""
    port = _parse_port(key, raw)
    if port == 0:
        raise SettingsError(f"{key} must be a port number from 1 to 65535, not {raw!r}")
    return port


def _parse_int(key: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a whole number, not {raw!r}") from None


def _parse_positive_int(key: str, raw: str) -> int:
    value = _parse_int(key, raw)
    if value < 1:
        raise SettingsError(f"{key} must be at least 1, not {raw!r}")
    return value


def _parse_timeout(key: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a number of seconds, not {raw!r}") from None
    if not value > 0:
        raise SettingsError(f"{key} must be more than 0 seconds, not {raw!r}")
    return value


def _parse_optional_str(key: str, raw: str) -> str | None:
    return raw.strip() or None


def _parse_str(key: str, raw: str) -> str:
    if not raw.strip():
        raise SettingsError(f"{key} must not be empty")
    return raw.strip()


def _parse_url(key: str, raw: str) -> str | None:
    value = raw.strip().rstrip("/")
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{key} must be an http:// or https:// URL, not {raw!r}")
    return value


def _parse_log_level(key: str, raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(f"{key} must be DEBUG, INFO, WARNING or ERROR, not {raw!r}")
    return level


def _parse_log_format(key: str, raw: str) -> str:
    if raw not in ("plain", "json"):
        raise SettingsError(f"{key} must be plain or json, not {raw!r}")
    return raw


def _parse_topics(key: str, raw: str) -> tuple[str, ...]:
    topics = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    for topic in topics:
        if not TOPIC_NAME.fullmatch(topic) or topic in (".", ".."):
            raise SettingsError(f"{key} holds {topic!r}, which is not a Kafka topic name")
    return topics


def _parse_topic(key: str, raw: str) -> str | None:
    topics = _parse_topics(key, raw)
    if len(topics) > 1:
        raise SettingsError(f"{key} must be one topic, not {raw!r}")
    return topics[0] if topics else None


def _parse_grace(key: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{key} must be a number of seconds, not {raw!r}") from None
    if not 0 <= value <= 60:
        raise SettingsError(f"{key} must be from 0 to 60 seconds, not {raw!r}")
    return value


Parser = Callable[[str, str], Any]

# field name -> (parser, help). The variable is SHOP_<FIELD>, the flag --<field-with-dashes>.
_FIELDS: dict[str, tuple[Parser, str]] = {
    "kafka_bootstrap_servers": (
        _parse_optional_str,
        "Kafka bootstrap servers, host:port[,host:port]; unset starts the embedded broker",
    ),
    "schema_registry_url": (
        _parse_url,
        "Schema Registry URL; unset with an embedded broker starts the embedded registry",
    ),
    "host": (_parse_str, "address the HTTP ports bind to"),
    "cart_port": (_parse_port, "port of the cart API"),
    "orders_port": (_parse_port, "port of the orders API"),
    "advertised_cart_url": (
        _parse_url,
        "URL other instances reach the cart API at (default http://<host>:<port>)",
    ),
    "advertised_orders_url": (
        _parse_url,
        "URL other instances reach the orders API at (default http://<host>:<port>)",
    ),
    "topic": (_parse_str, "topic of the order events"),
    "topic_partitions": (
        _parse_positive_int,
        "partitions of the topic when the service creates it",
    ),
    "topic_replication_factor": (
        _parse_positive_int,
        "replicas of the topic when the service creates it",
    ),
    "consumer_group": (_parse_str, "consumer group of the order view"),
    "kafka_idempotence": (_parse_bool, "idempotent producer (switch off for brokers without it)"),
    "request_timeout_s": (_parse_timeout, "longest wait, in seconds, for the broker or registry"),
    "data_dir": (
        lambda key, raw: Path(_parse_str(key, raw)),
        "data directory of the embedded stack",
    ),
    "embedded_kafka_port": (_parse_fixed_port, "port of the embedded broker"),
    "embedded_registry_port": (_parse_fixed_port, "port of the embedded Schema Registry"),
    "log_level": (_parse_log_level, "DEBUG, INFO, WARNING or ERROR"),
    "log_format": (_parse_log_format, "plain (a line a person reads) or json (one object a line)"),
    "dead_letter_topic": (
        _parse_topic,
        "topic of records the view cannot apply (default <topic>.dlq)",
    ),
    "scan_topics": (
        _parse_topics,
        "comma-separated topics getAllOrderIdsFromTopic may read (default the order topic)",
    ),
    "scan_max_records": (
        _parse_positive_int,
        "most records one getAllOrderIdsFromTopic scan reads",
    ),
    "scan_concurrency": (_parse_positive_int, "getAllOrderIdsFromTopic scans that may run at once"),
    "shutdown_grace_s": (_parse_grace, "seconds requests in flight get to finish on SIGTERM"),
}


def env_key(field: str) -> str:
    return f"SHOP_{field.upper()}"


def load(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings once; raise :class:`SettingsError` naming the first bad key."""
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="python -m shop",
        description="Run the cart and orders services. Every flag has a SHOP_* variable too.",
    )
    for field, (_, help_text) in _FIELDS.items():
        parser.add_argument(
            "--" + field.replace("_", "-"),
            dest=field,
            metavar="VALUE",
            help=f"{help_text} (env {env_key(field)})",
        )
    flags = vars(parser.parse_args(argv))

    values: dict[str, Any] = {}
    for field, (parse, _) in _FIELDS.items():
        if flags[field] is not None:
            values[field] = parse("--" + field.replace("_", "-"), flags[field])
        elif env_key(field) in environ:
            values[field] = parse(env_key(field), environ[env_key(field)])
    settings = Settings(**values)
    if settings.cart_port == settings.orders_port and settings.cart_port != 0:
        raise SettingsError("SHOP_CART_PORT and SHOP_ORDERS_PORT must differ")
    if settings.kafka_bootstrap_servers is not None and settings.schema_registry_url is None:
        raise SettingsError(
            "SHOP_SCHEMA_REGISTRY_URL must be set when SHOP_KAFKA_BOOTSTRAP_SERVERS is"
        )
    if settings.kafka_bootstrap_servers is None and settings.schema_registry_url is not None:
        raise SettingsError(
            "SHOP_SCHEMA_REGISTRY_URL needs SHOP_KAFKA_BOOTSTRAP_SERVERS: the embedded registry "
            "keeps its schemas in the embedded broker"
        )
    return settings
