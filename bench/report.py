"""The table of results (Markdown, pasted as is into RESULTS.md) and ``bench/out/results.json``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from bench.e2e import E2eResult
from bench.health_memory import HealthMemory
from bench.instances import GroupRun, Instances
from bench.rebuild import RESOLUTION_S, RebuildResult
from bench.scan_interference import Creates, ScanInterference
from bench.throughput import Throughput

MIB = 2**20

TARGET_RATIO = 0.5
TARGET_CREATE_P99_MS = 50.0
TARGET_E2E_P99_MS = 50.0
TARGET_REBUILD_PER_S = 20_000.0
# Flat: what 10,000 calls may add to the service's RSS.
TARGET_HEALTH_GROWTH_MIB = 5.0


@dataclasses.dataclass(slots=True)
class Results:
    machine: dict[str, str]
    load_before: str = ""
    load_after: str = ""
    echo: Throughput | None = None
    echo_uvloop: Throughput | None = None
    create_order: Throughput | None = None
    kafka_floor: dict[str, float] | None = None
    e2e: E2eResult | None = None
    rebuilds: list[RebuildResult] = dataclasses.field(default_factory=list)
    health_memory: HealthMemory | None = None
    scan_interference: ScanInterference | None = None
    instances: Instances | None = None


def write_json(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dataclasses.asdict(results), indent=2) + "\n")


def table(results: Results) -> str:
    rows: list[tuple[str, str, str]] = []
    rows += _throughput_rows(results)
    if results.e2e is not None:
        rows += _e2e_rows(results.e2e)
    rows += _rebuild_rows(results.rebuilds)
    if results.health_memory is not None:
        rows.append(_health_memory_row(results.health_memory))
    if results.scan_interference is not None:
        rows += _scan_rows(results.scan_interference)
    if results.instances is not None:
        rows += _instances_rows(results.instances)
    lines = [
        _machine_line(results),
        "",
        "| figure | value | target |",
        "| --- | --- | --- |",
        *(f"| {figure} | {value} | {target} |" for figure, value, target in rows),
    ]
    return "\n".join(lines)


def _machine_line(results: Results) -> str:
    m = results.machine
    return (
        f"{m['date']}, commit {m['commit']}, broker {m.get('broker', 'noida')}: "
        f"{m['cpus']} CPUs ({m['cpu_model']}), "
        f"{m['memory_gib']} GiB, Python {m['python']}, Linux {m['kernel']}; "
        f"load average {results.load_before} before, {results.load_after} after"
    )


def _wrk_cell(measured: Throughput) -> str:
    result = measured.wrk
    cell = (
        f"{result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms; "
        f"server CPU {measured.cpu_us_per_request:.0f} µs/request"
    )
    if measured.helpers_cpu_s:
        cell += f" (+ broker and registry {measured.helpers_cpu_s:.1f} CPU s in the run)"
    if result.non_2xx or result.socket_errors:
        cell += f" ({result.non_2xx} not 2xx, {result.socket_errors} socket errors)"
    return cell


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _throughput_rows(results: Results) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    echo, service = results.echo, results.create_order
    if service is not None:
        p99_ok = service.wrk.p99_ms < TARGET_CREATE_P99_MS and not service.wrk.non_2xx
        target = f"p99 < {TARGET_CREATE_P99_MS:.0f} ms: {_met(p99_ok)}"
        rows.append(("create-order, wrk, 64 connections", _wrk_cell(service), target))
    if echo is not None:
        rows.append(("bare aiohttp echo (asyncio), same wrk run", _wrk_cell(echo), ""))
    if echo is not None and service is not None:
        ratio = service.wrk.requests_per_s / echo.wrk.requests_per_s
        target = f">= {TARGET_RATIO:.2f}: {_met(ratio >= TARGET_RATIO)}"
        rows.append(("**create-order / echo throughput**", f"**{ratio:.2f}**", target))
        cpu_ratio = echo.cpu_us_per_request / service.cpu_us_per_request
        rows.append(
            ("same, as echo CPU per request / create-order CPU per request", f"{cpu_ratio:.2f}", "")
        )
    if results.kafka_floor is not None:
        floor = results.kafka_floor
        rows.append(
            (
                "aiokafka alone: 64 senders, acks=all, read back (kafka_floor.py)",
                f"{floor['records_per_s']:,.0f} records/s; "
                f"CPU {floor['cpu_us_per_record']:.0f} µs/record",
                "",
            )
        )
    if results.echo_uvloop is not None:
        uv = results.echo_uvloop
        rows.append(("bare echo on uvloop, as the service runs", _wrk_cell(uv), ""))
        if service is not None:
            like = service.wrk.requests_per_s / uv.wrk.requests_per_s
            rows.append(("create-order / echo on uvloop throughput", f"{like:.2f}", ""))
    return rows


def _e2e_rows(e2e: E2eResult) -> list[tuple[str, str, str]]:
    ok = e2e.visible_p99_ms < TARGET_E2E_P99_MS and not e2e.failed
    value = (
        f"p50 {e2e.visible_p50_ms:.1f} ms, p99 {e2e.visible_p99_ms:.1f} ms "
        f"({e2e.orders} orders, {e2e.failed} failed, polled every {e2e.poll_interval_ms:.0f} ms, "
        f"{e2e.polls_per_order:.1f} polls each; create alone p50 {e2e.create_p50_ms:.1f} ms, "
        f"p99 {e2e.create_p99_ms:.1f} ms)"
    )
    target = f"p99 < {TARGET_E2E_P99_MS:.0f} ms: {_met(ok)}"
    return [(f"end to end, create → order-details 200, {e2e.rate_per_s} req/s", value, target)]


def _rebuild_rows(rebuilds: list[RebuildResult]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for r in rebuilds:
        n = f"{r.events:,}"
        rows += [
            _rebuild_row(r),
            (
                f"view rebuild at start-up, {n} events, from outside",
                f"{_rate(r.events, r.rebuild_s)} (start-up {r.startup_full_s:.2f} s less "
                f"{r.startup_empty_s:.2f} s on an empty topic); "
                f"service CPU {r.rebuild_cpu_s:.2f} s, "
                f"{_rate(r.events, r.rebuild_cpu_s)} per CPU second",
                "",
            ),
            (f"getAllOrderIdsFromTopic, {n} events", f"{r.get_all_s:.2f} s", ""),
            (
                f"service RSS, {n} orders in the view",
                f"{r.rss_full_bytes / MIB:.0f} MiB (empty view {r.rss_empty_bytes / MIB:.0f} MiB; "
                f"broker + registry {r.stack_children_rss_bytes / MIB:.0f} MiB)",
                "",
            ),
            (
                f"filling the topic through create-order, {n} orders",
                f"{r.fill_per_s:,.0f} orders/s",
                "",
            ),
        ]
    if len(rebuilds) >= 2:
        rows += _growth_rows(rebuilds[0], rebuilds[-1])
    return rows


def _rate(events: int, seconds: float) -> str:
    if seconds <= RESOLUTION_S:
        return f"not resolved ({seconds:.2f} s is within start-up noise)"
    return f"{events / seconds:,.0f} events/s ({seconds:.2f} s)"


def _rebuild_row(r: RebuildResult) -> tuple[str, str, str]:
    """The rebuild as the service logged it, when it did; else the difference of start-ups."""
    figure = f"view rebuild at start-up, {r.events:,} events"
    seconds = r.logged_rebuild_s if r.logged_rebuild_s is not None else r.rebuild_s
    how = "by the service's log" if r.logged_rebuild_s is not None else "from outside"
    ok = seconds > RESOLUTION_S and r.events / seconds >= TARGET_REBUILD_PER_S
    target = f">= {TARGET_REBUILD_PER_S:,.0f}/s: {_met(ok)}"
    return figure, f"{_rate(r.events, seconds)}, {how}", target


def _growth_rows(small: RebuildResult, large: RebuildResult) -> list[tuple[str, str, str]]:
    linear = large.events / small.events
    # 10 % above linear still counts as linear: single runs on a shared machine are that noisy.
    target = f"linear or better: ×{linear * 1.1:g} or less (×{linear:g} is linear, +10 % for noise)"

    def growth(name: str, small_value: float, large_value: float) -> tuple[str, str, str]:
        figure = f"growth {small.events:,} → {large.events:,} events: {name}"
        if small_value <= RESOLUTION_S:
            return figure, "not resolved at the smaller size", ""
        factor = large_value / small_value
        return figure, f"×{factor:.1f}", f"{target}: {_met(factor <= linear * 1.1)}"

    return [
        growth(
            "rebuild time by the service's log",
            small.logged_rebuild_s or 0.0,
            large.logged_rebuild_s or 0.0,
        ),
        growth("rebuild service CPU", small.rebuild_cpu_s, large.rebuild_cpu_s),
        growth("getAllOrderIdsFromTopic time", small.get_all_s, large.get_all_s),
        growth(
            "RSS above the empty view",
            small.rss_full_bytes - small.rss_empty_bytes,
            large.rss_full_bytes - large.rss_empty_bytes,
        ),
    ]


def _health_memory_row(h: HealthMemory) -> tuple[str, str, str]:
    growth = (h.rss_after_bytes - h.rss_before_bytes) / MIB
    value = (
        f"{h.rss_before_bytes / MIB:.0f} MiB before, {h.rss_after_bytes / MIB:.0f} MiB after "
        f"({growth:+.1f} MiB; {h.calls / h.seconds:,.0f} calls/s, {h.not_200} not 200)"
    )
    target = (
        f"flat (< +{TARGET_HEALTH_GROWTH_MIB:g} MiB): {_met(growth < TARGET_HEALTH_GROWTH_MIB)}"
    )
    return f"service RSS over {h.calls:,} GET /health", value, target


def _scan_rows(s: ScanInterference) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for run in s.runs:
        limit = (
            "default scan limit"
            if run.scan_concurrency is None
            else f"SHOP_SCAN_CONCURRENCY={run.scan_concurrency}"
        )
        scans = run.scans
        answers = ", ".join(f"{count} × {status}" for status, count in scans.statuses.items())
        rows += [
            (
                f"create-order at {s.rate_per_s}/s for {s.seconds:g} s, alone ({limit})",
                _creates_cell(run.alone),
                "",
            ),
            (
                f"same while {s.scanners} clients scan {s.orders:,} orders ({limit})",
                _creates_cell(run.loaded),
                "",
            ),
            (
                f"those scans ({limit})",
                f"{answers}; 200s took p50 {scans.p50_s:.2f} s, max {scans.max_s:.2f} s "
                f"(fewest ids {scans.fewest_ids:,}, {scans.partial} partial); "
                f"slowest 429 {scans.max_429_ms:.1f} ms",
                "",
            ),
            (
                f"service RSS over those scans ({limit})",
                f"{run.rss_before_bytes / MIB:.0f} MiB before, peak "
                f"{run.rss_peak_bytes / MIB:.0f} MiB, {run.rss_after_bytes / MIB:.0f} MiB after",
                "",
            ),
        ]
    return rows


def _creates_cell(c: Creates) -> str:
    return (
        f"p50 {c.p50_ms:.1f} ms, p99 {c.p99_ms:.1f} ms, max {c.max_ms:.1f} ms "
        f"({c.answered} created, {c.failed} failed; service CPU {c.service_cpu_s:.1f} s)"
    )


def _instances_rows(i: Instances) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    single = next((run for run in i.runs if run.instances == 1), None)
    for run in i.runs:
        instances = f"{run.instances} instance{'s' if run.instances > 1 else ''}"
        how = (
            "each client sends only orders its instance owns"
            if run.direct
            else "a wrk each, the same load on every instance"
        )
        figure = (
            f"create-order, {instances} in one group ({i.partitions} partitions), {how}, "
            f"{i.connections} connections in all"
        )
        rows.append((figure, _group_cell(run), ""))
        if single is not None and run is not single:
            rows.append(
                (
                    f"throughput, {instances} over 1{' (direct)' if run.direct else ''}",
                    f"×{run.requests_per_s / single.requests_per_s:.2f}",
                    "",
                )
            )
    return rows


def _group_cell(run: GroupRun) -> str:
    per_instance = " + ".join(f"{load.wrk.requests_per_s:,.0f}" for load in run.loads)
    cores = run.machine_busy_cpu_s / run.wall_s
    others = run.machine_busy_cpu_s - run.service_cpu_s - run.broker_registry_cpu_s
    cell = (
        f"{run.requests_per_s:,.0f} req/s ({per_instance}), merged p50 {run.p50_ms:.1f} ms, "
        f"p99 {run.p99_ms:.1f} ms; service CPU {run.cpu_us_per_request:.0f} µs/create "
        f"({run.service_cpu_s:.1f} s over the instances); forwarded {run.forwarded_share:.0%} "
        f"(the table predicts {run.predicted_share:.0%}); machine busy {cores:.2f} cores: "
        f"service {run.service_cpu_s:.1f}, broker + registry {run.broker_registry_cpu_s:.1f}, "
        f"wrk and the rest {others:.1f} CPU s"
    )
    if run.non_2xx or run.socket_errors:
        cell += f" ({run.non_2xx} not 2xx, {run.socket_errors} socket errors)"
    if run.rebalanced:
        cell += " (**the group rebalanced during the run**)"
    return cell
