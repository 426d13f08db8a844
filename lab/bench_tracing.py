"""`make bench --tracing`: what trace ids and exemplars cost the function service, measured
against the same service with them off (LAB_TRACING=off) in the same rounds.

Throughput on a shared machine moves with other jobs' load; the CPU time the service process
spends per request holds steadier, and on a core of its own a CPU-bound service's throughput is
1 / that time, so both are reported (docs/benchmarks.md).
"""

from __future__ import annotations

import os
import re
import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lab import support
from lab.bench_results import Measurement

if TYPE_CHECKING:
    from lab.bench import ServerSpec, Target

# The fibonacci service with trace ids and exemplars off, against which `--tracing` compares.
UNTRACED_TARGET = "untraced-fibonacci"
UNTRACED_ENV = {"LAB_TRACING": "off"}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (proc(5): stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def untraced_server(traced: ServerSpec) -> ServerSpec:
    """The same service as `traced` on its own port, trace ids and exemplars off."""
    port = support.free_port()
    argv = (*traced.argv[: traced.argv.index("--port") + 1], str(port))
    from lab.bench import ServerSpec

    return ServerSpec(UNTRACED_TARGET, argv, port, {**traced.env, **UNTRACED_ENV})


def wrk_requests(text: str) -> int:
    """How many requests `wrk` completed (its "N requests in T" line)."""
    found = re.search(r"^\s*(\d+) requests in ", text, re.MULTILINE)
    if found is None:
        raise ValueError(f"no request count in wrk output:\n{text}")
    return int(found.group(1))


def cpu_us_per_request(pid: int, before: float, wrk_output: str) -> float | None:
    """CPU microseconds process `pid` spent per request of a wrk run begun at `before`."""
    requests = wrk_requests(wrk_output)
    return (cpu_seconds(pid) - before) * 1e6 / requests if requests else None


def median_or_none(values: Sequence[float | None]) -> float | None:
    return None if any(v is None for v in values) else statistics.median(values)


def add_untraced(
    servers: list[ServerSpec], targets: list[Target], traced_name: str, path: str
) -> None:
    """The untraced twin of server `traced_name` and a target on `path` for each of the two."""
    from lab.bench import Target

    traced = next(server for server in servers if server.name == traced_name)
    untraced = untraced_server(traced)
    servers.append(untraced)
    targets.append(Target(UNTRACED_TARGET, f"http://127.0.0.1:{untraced.port}", (path,)))
    if not any(target.name == traced_name for target in targets):
        targets.append(Target(traced_name, f"http://127.0.0.1:{traced.port}", (path,)))


def tracing_cost(
    results: Sequence[Measurement], traced: str, untraced: str = UNTRACED_TARGET
) -> dict[int, dict]:
    """Per connection count: both throughputs, and traced over untraced (1.0: free)."""
    index = {(m.target, m.connections): m for m in results}
    cost = {}
    for (target, count), with_ids in sorted(index.items()):
        without = index.get((untraced, count))
        if target != traced or without is None:
            continue
        cost[count] = {
            "traced_rps": with_ids.requests_per_second,
            "untraced_rps": without.requests_per_second,
            "throughput_ratio": with_ids.requests_per_second / without.requests_per_second,
            "traced_p50_ms": with_ids.p50_ms,
            "untraced_p50_ms": without.p50_ms,
        }
        if with_ids.cpu_us_per_request and without.cpu_us_per_request:
            # CPU-bound, a process's throughput is 1 / its CPU time per request.
            cost[count]["traced_cpu_us"] = with_ids.cpu_us_per_request
            cost[count]["untraced_cpu_us"] = without.cpu_us_per_request
            cost[count]["cpu_throughput_ratio"] = (
                without.cpu_us_per_request / with_ids.cpu_us_per_request
            )
    return cost


def report(results: Sequence[Measurement], traced: str) -> dict[str, dict]:
    """Print and return the cost per connection count (keys as strings, for JSON)."""
    cost = tracing_cost(results, traced)
    for count, row in cost.items():
        print(
            f"trace ids and exemplars at c={count}: {row['throughput_ratio']:.1%} of the "
            f"untraced throughput ({row['traced_rps']:.0f} vs {row['untraced_rps']:.0f} req/s)"
        )
        if "cpu_throughput_ratio" in row:
            print(
                f"  CPU per request: {row['traced_cpu_us']:.0f} vs {row['untraced_cpu_us']:.0f}"
                f" us, {row['cpu_throughput_ratio']:.1%} of the untraced throughput on a core"
                " of its own"
            )
    return {str(count): row for count, row in cost.items()}
