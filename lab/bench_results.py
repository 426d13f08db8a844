"""docs/bench-results.md: what Traefik adds in front of a function service, from one
`make bench --traefik` run, with the machine it ran on and a verdict per goal."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.contract import FUNCTIONS, sample_path
from lab.support import REPO_ROOT

TRAEFIK_PATH = sample_path(FUNCTIONS[0])
TRAEFIK_TARGET = "traefik-" + FUNCTIONS[0]
RESULTS_MD = REPO_ROOT / "docs" / "bench-results.md"
# Goals on the build machine: what a proxy hop may cost a cheap call.
TRAEFIK_GOAL_ADDED_P50_MS = 0.3
TRAEFIK_GOAL_THROUGHPUT_RATIO = 0.8


@dataclass
class Measurement:
    target: str
    path: str
    connections: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    # CPU time the server process spent per request (None: not measured). On a shared machine
    # this holds steadier than throughput, which other jobs' load moves a lot.
    cpu_us_per_request: float | None = None


def traefik_overhead(results: Sequence[Measurement], direct_target: str) -> dict[int, dict]:
    """Per connection count: p50 through Traefik minus p50 direct, and the throughput ratio."""
    index = {(m.target, m.path, m.connections): m for m in results}
    overhead = {}
    for count in sorted({m.connections for m in results}):
        direct = index.get((direct_target, TRAEFIK_PATH, count))
        proxied = index.get((TRAEFIK_TARGET, TRAEFIK_PATH, count))
        if direct is None or proxied is None:
            continue
        overhead[count] = {
            "direct_rps": direct.requests_per_second,
            "traefik_rps": proxied.requests_per_second,
            "direct_p50_ms": direct.p50_ms,
            "traefik_p50_ms": proxied.p50_ms,
            "added_p50_ms": proxied.p50_ms - direct.p50_ms,
            "throughput_ratio": proxied.requests_per_second / direct.requests_per_second,
            "non_2xx": direct.non_2xx + proxied.non_2xx,
        }
    return overhead


def machine_note() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
    }


def write_results_md(path: Path, overhead: dict[int, dict], settings: dict, before: dict) -> None:
    after = machine_note()
    lines = [
        "# Benchmark: Traefik in front of a function service",
        "",
        "Written by `make bench` (lab/bench.py `--traefik`); rerun it to refresh this page.",
        f"wrk, 1 thread, `GET {TRAEFIK_PATH}` on one {FUNCTIONS[0]} process (uvloop), direct and"
        " through Traefik (the stack's config: metrics, retry middleware, health check),"
        f" interleaved in the same run: {settings['rounds']} rounds of {settings['seconds']} s,"
        " medians reported.",
        "",
        f"Machine: {before['cpus']} CPUs, {before['cpu_model']}, Python {before['python']};"
        f" load average {before['load_average']} before, {after['load_average']} after"
        " (the machine is shared: a high load makes every number noisier).",
        "",
        "| conns | direct req/s | Traefik req/s | ratio | direct p50 ms | Traefik p50 ms"
        " | added p50 ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for count, row in overhead.items():
        lines.append(
            f"| {count} | {row['direct_rps']:.0f} | {row['traefik_rps']:.0f}"
            f" | {row['throughput_ratio']:.0%} | {row['direct_p50_ms']:.3f}"
            f" | {row['traefik_p50_ms']:.3f} | {row['added_p50_ms']:.3f} |"
        )
    lines += [
        "",
        "Goals: Traefik adds at most"
        f" {TRAEFIK_GOAL_ADDED_P50_MS} ms at p50 and keeps at least"
        f" {TRAEFIK_GOAL_THROUGHPUT_RATIO:.0%} of direct throughput at 32 connections.",
    ]
    if (before["cpus"] or 0) < 4:
        lines += [
            "",
            f"Reading the numbers on {before['cpus']} CPUs: at 32 connections the service keeps"
            " one CPU busy and wrk another; through Traefik a third busy process needs the same"
            " cores, so the ratio there measures CPU contention as much as Traefik itself. At 1"
            " connection throughput is 1 / latency, so its ratio only restates the added p50.",
        ]
    for count, row in overhead.items():
        verdicts = [
            f"added p50 {row['added_p50_ms']:.3f} ms"
            f" ({'met' if row['added_p50_ms'] <= TRAEFIK_GOAL_ADDED_P50_MS else 'missed'})"
        ]
        if count >= 32:
            met = row["throughput_ratio"] >= TRAEFIK_GOAL_THROUGHPUT_RATIO
            verdicts.append(
                f"throughput {row['throughput_ratio']:.0%} ({'met' if met else 'missed'})"
            )
        lines.append(f"- c={count}: " + ", ".join(verdicts))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
