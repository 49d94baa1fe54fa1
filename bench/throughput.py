"""create-order throughput and latency under wrk, for the service and for the bare echo server.

Every target gets a short warm-up run first (connections, the schema's registration, the
producer's metadata), then the measured run with a fresh orderId prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence

from bench import cpu, wrk
from bench.stack import free_port

CONNECTIONS = 64
WARM_UP_S = 2.0


@dataclasses.dataclass(frozen=True, slots=True)
class Throughput:
    wrk: wrk.WrkResult
    server_cpu_s: float  # CPU seconds of the server process during the measured run
    helpers_cpu_s: float  # the same for its broker and registry (none for the echo server)

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s / max(self.wrk.requests, 1) * 1e6


def measure(url: str, duration_s: float, pid: int) -> Throughput:
    """wrk against ``url`` served by process ``pid``, after a warm-up."""
    prefix = uuid.uuid4().hex[:8]
    wrk.run(url, wrk.CREATE_ORDER, [f"warm-{prefix}"], CONNECTIONS, WARM_UP_S)
    server, helpers = cpu.seconds(pid), cpu.children_seconds(pid)
    result = wrk.run(url, wrk.CREATE_ORDER, [f"bench-{prefix}"], CONNECTIONS, duration_s)
    return Throughput(result, cpu.seconds(pid) - server, cpu.children_seconds(pid) - helpers)


async def measure_echo(duration_s: float, uvloop: bool = False) -> Throughput:
    with echo_server(uvloop) as (url, pid):
        return await asyncio.to_thread(measure, url, duration_s, pid)


@contextlib.contextmanager
def echo_server(
    uvloop: bool = False, wrapper: Sequence[str] = (), listen_timeout_s: float = 20
) -> Iterator[tuple[str, int]]:
    """The bare echo, listening (its URL and pid); ``wrapper``: a command that runs it
    (valgrind's), whose slower start ``listen_timeout_s`` allows for."""
    port = free_port()
    argv = [*wrapper, sys.executable, "-m", "bench.echo", "--port", str(port)]
    with subprocess.Popen([*argv, "--uvloop"] if uvloop else argv) as process:
        try:
            _wait_listening(port, process, listen_timeout_s)
            yield f"http://127.0.0.1:{port}", process.pid
        finally:
            process.terminate()


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the echo server exited with code {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the echo server did not listen on port {port} within {timeout_s} s")
