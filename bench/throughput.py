"""create-order throughput and latency under wrk, for the service and for the bare echo server.

Every target gets a short warm-up run first (connections, the schema's registration, the
producer's metadata), then the measured run with a fresh orderId prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

from shop.children import free_port

from bench import wrk

CONNECTIONS = 64
WARM_UP_S = 2.0


def measure(url: str, duration_s: float) -> wrk.WrkResult:
    prefix = uuid.uuid4().hex[:8]
    wrk.run(url, wrk.CREATE_ORDER, [f"warm-{prefix}"], CONNECTIONS, WARM_UP_S)
    return wrk.run(url, wrk.CREATE_ORDER, [f"bench-{prefix}"], CONNECTIONS, duration_s)


async def measure_echo(duration_s: float, uvloop: bool = False) -> wrk.WrkResult:
    with _echo_server(uvloop) as url:
        return await asyncio.to_thread(measure, url, duration_s)


@contextlib.contextmanager
def _echo_server(uvloop: bool) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "bench.echo", "--port", str(port)]
    with subprocess.Popen([*argv, "--uvloop"] if uvloop else argv) as process:
        try:
            _wait_listening(port, process)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the echo server exited with code {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"the echo server did not listen on port {port} within {timeout_s} s")
