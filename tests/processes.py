"""Child processes of the tests (Chromium, schemathesis, the shop command), each bounded."""

from __future__ import annotations

import asyncio
import contextlib

import pytest


async def finished(
    process: asyncio.subprocess.Process, timeout_s: float, what: str
) -> tuple[bytes, bytes]:
    """What ``process`` wrote to its stdout and stderr (each piped or empty), once it exited;
    killed, and the test failed, when it runs longer than ``timeout_s``."""
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        pytest.fail(f"{what} did not finish within {timeout_s} s")
    return stdout or b"", stderr or b""
