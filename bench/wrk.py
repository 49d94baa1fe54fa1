"""wrk, the HTTP load generator (C, not the service's runtime): install, run, parse.

Both the service and the echo server are loaded by the same script and settings, so their figures
compare.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

SCRIPTS = Path(__file__).parent
CREATE_ORDER = SCRIPTS / "create_order.lua"
FILL_ORDERS = SCRIPTS / "fill_orders.lua"
# Set in its environment, create_order.lua prints the orderIds it sent and wrk's latency
# distribution after the run.
DETAIL = "WRK_DETAIL"

# One wrk thread drives 64 connections at well over the echo's rate, and leaves the other core
# to the server; two threads would take CPU from the server on a 2-core machine.
THREADS = 1


class WrkError(RuntimeError):
    """wrk is missing and cannot be installed, or its output is not what we parse."""


@dataclasses.dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package when we are root and it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise WrkError("wrk is not installed: run `sudo apt-get install -y wrk` (Debian/Ubuntu)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, env=env)
    found = shutil.which("wrk")
    if not found:
        raise WrkError("apt-get installed wrk but it is not on PATH")
    return found


def run(
    url: str,
    script: Path,
    script_args: list[str],
    connections: int = 64,
    duration_s: float = 10.0,
    timeout_s: float = 10.0,
) -> WrkResult:
    """Run wrk against ``url`` and return its figures; ``duration_s`` bounds a filling run too."""
    return parse(_output(url, script, script_args, connections, duration_s, timeout_s))


@dataclasses.dataclass(frozen=True, slots=True)
class Sent:
    """What create_order.lua printed after wrk's own figures, with :data:`DETAIL` set."""

    # Per wrk thread, the first and last counter of the orderIds it sent, answered or not.
    counters: dict[int, tuple[int, int]]
    # The latency distribution wrk reads its percentiles from, microseconds -> count: with
    # wrk's correction for coordinated omission (a latency above the mean interval between two
    # requests of a connection adds the requests that connection would have sent meanwhile), so
    # it counts more than the requests. Those of wrk processes run side by side add up.
    latency_us: collections.Counter[int]

    @property
    def requests(self) -> int:
        return sum(last - first + 1 for first, last in self.counters.values())

    def order_ids(self, prefix: str, listed: Sequence[str] = ()) -> list[str]:
        """The orderIds create_order.lua sent with ``prefix`` and the ``listed`` ids."""
        return [
            listed[counter - 1] if counter <= len(listed) else f"{prefix}-{thread}-{counter}"
            for thread, (first, last) in self.counters.items()
            for counter in range(first, last + 1)
        ]


def run_detailed(
    url: str, prefix: str, connections: int, duration_s: float, ids: Path | None = None
) -> tuple[WrkResult, Sent]:
    """:func:`run` of create_order.lua with :data:`DETAIL` set, and what it printed of it;
    ``ids``, a file of orderIds (one a line) to send first."""
    env = {**os.environ, DETAIL: "1"}
    args = [prefix] if ids is None else [prefix, str(ids)]
    output = _output(url, CREATE_ORDER, args, connections, duration_s, 10.0, env)
    counters = {
        int(thread): (int(first), int(last))
        for thread, first, last in re.findall(r"^sent (\d+) (\d+) (\d+)$", output, re.MULTILINE)
    }
    latency_us: collections.Counter[int] = collections.Counter()
    for value, count in re.findall(r"^latency-us (\d+) (\d+)$", output, re.MULTILINE):
        latency_us[int(value)] += int(count)
    if not counters or not latency_us:
        raise WrkError(f"{CREATE_ORDER.name} printed no orderIds or latencies:\n{output}")
    return parse(output), Sent(counters, latency_us)


def _output(
    url: str,
    script: Path,
    script_args: list[str],
    connections: int,
    duration_s: float,
    timeout_s: float,
    env: dict[str, str] | None = None,
) -> str:
    argv = [
        ensure_wrk(),
        f"-t{THREADS}",
        f"-c{connections}",
        f"-d{duration_s:.0f}s",
        f"--timeout={timeout_s:.0f}s",
        "--latency",
        "-s",
        str(script),
        url,
        "--",
        *script_args,
    ]
    completed = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if completed.returncode != 0:
        raise WrkError(f"wrk exited with {completed.returncode}: {completed.stderr.strip()}")
    return completed.stdout


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _latency_ms(output: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if match is None:
        raise WrkError(f"no {percentile}% latency in wrk's output:\n{output}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse(output: str) -> WrkResult:
    """The figures of wrk's ``--latency`` output."""
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if total is None or rate is None:
        raise WrkError(f"no request count in wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(total.group(1)),
        seconds=float(total.group(2)) * _UNIT_MS[total.group(3)] / 1000.0,
        requests_per_s=float(rate.group(1)),
        p50_ms=_latency_ms(output, "50"),
        p99_ms=_latency_ms(output, "99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def fill(
    url: str, prefix: str, orders: int, connections: int = 64, limit_s: float = 600.0
) -> WrkResult:
    """Create ``orders`` orders through ``url`` as fast as wrk can, and return wrk's figures."""
    argv = [
        ensure_wrk(),
        f"-t{THREADS}",
        f"-c{connections}",
        f"-d{limit_s:.0f}s",
        "--timeout=30s",
        "--latency",
        "-s",
        str(FILL_ORDERS),
        url,
        "--",
        prefix,
        str(orders),
    ]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as wrk:
        assert wrk.stdout is not None and wrk.stderr is not None
        head = []
        for line in wrk.stdout:
            head.append(line)
            if line.strip() == "filled":
                # wrk's main thread sleeps out the duration; SIGINT makes it report now.
                wrk.send_signal(signal.SIGINT)
                break
        rest, errors = wrk.communicate(timeout=30)
    if "filled\n" not in head:
        raise WrkError(f"wrk did not create {orders} orders within {limit_s:.0f} s: {errors}")
    return parse("".join(head) + rest)
