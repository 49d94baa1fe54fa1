"""CPU seconds a process used: a figure other load on the machine changes far less than time."""

from __future__ import annotations

import psutil


def seconds(pid: int) -> float:
    """User plus system CPU seconds of process ``pid`` so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def children_seconds(pid: int) -> float:
    """The same for every descendant of ``pid`` (the embedded broker and registry)."""
    children = psutil.Process(pid).children(recursive=True)
    return sum(float(child.cpu_times().user + child.cpu_times().system) for child in children)


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent not idle (nor waiting for I/O) so far."""
    times = psutil.cpu_times()
    busy = ("user", "nice", "system", "irq", "softirq", "steal")
    return sum(float(getattr(times, field, 0.0)) for field in busy)
