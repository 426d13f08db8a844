"""`make bench`: load-test the function services on loopback with wrk, against a bare Tornado
handler that answers a constant (the ceiling of what Tornado can do on this machine).

Processes (`ServerSpec`) are started once; load goes to `Target`s (a name, a base URL and
the paths to hit), so a scenario such as "through Traefik" is one more server plus one
more target whose `baseline` names what it is compared with. Rounds interleave every
target so that the machine's noise hits all of them alike; the report uses the median of
the rounds and the ratio target/baseline within the same run. Results are printed and
written to build/bench.json.

`--traefik` (what `make bench` passes) adds Traefik, configured as in the stack (metrics, retry
middleware, health check), in front of the fibonacci service: the same process is measured
direct and through Traefik in the same rounds, and Traefik's added p50 latency and throughput
ratio go to docs/bench-results.md (lab/bench_results.py).

`--tracing` (`make bench` passes it too): what trace ids cost, lab/bench_tracing.py.

The service runs as in a container: metrics on, one ECS log line per request written to
its stdout, which is redirected to a file (build/bench-<server>.log), not a terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.contract import FUNCTION_ARGUMENTS, FUNCTIONS, sample_path
from lab import bench_log_loss, bench_results, bench_tracing, support
from lab.bench_results import TRAEFIK_PATH, TRAEFIK_TARGET, Measurement
from lab.bench_tracing import UNTRACED_TARGET, cpu_seconds, cpu_us_per_request
from lab.calls import call_path

BUILD = support.BUILD_DIR
# Per function its largest call, and the cheap sample call of the first as the light load.
LARGEST_PATHS = {
    function: call_path(function, [high for _name, high in FUNCTION_ARGUMENTS[function]])
    for function in FUNCTIONS
}
FUNCTION_PATHS = (sample_path(FUNCTIONS[0]), *LARGEST_PATHS.values())
BARE_BODY = b'{"function": "bare", "args": [10], "result": "55"}'


@dataclass(frozen=True)
class ServerSpec:
    """A process to start before the load and stop after it."""

    name: str
    argv: tuple[str, ...]
    port: int
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/health"


@dataclass(frozen=True)
class Target:
    """Where load goes: `paths` under `base_url`, compared with the `baseline` target."""

    name: str
    base_url: str
    paths: tuple[str, ...]
    baseline: str | None = None


@contextmanager
def running(spec: ServerSpec) -> Iterator[support.Child]:
    """The server, once its ready path answers 200; stopped on the way out."""
    child = support.start(spec.name, spec.argv, BUILD / f"bench-{spec.name}.log", env=spec.env)
    try:
        url = f"http://127.0.0.1:{spec.port}{spec.ready_path}"
        support.wait_for_http(url, timeout=15.0, process=child.process)
        yield child
    finally:
        support.stop([child], grace=15.0)


_UNIT_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _latency_ms(text: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if match is None:
        raise ValueError(f"no {percentile}% latency in wrk output:\n{text}")
    return float(match.group(1)) * _UNIT_TO_MS[match.group(2)]


def parse_wrk(text: str) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx responses) from `wrk --latency` output."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    if rate is None:
        raise ValueError(f"no Requests/sec in wrk output:\n{text}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    return (
        float(rate.group(1)),
        _latency_ms(text, "50"),
        _latency_ms(text, "99"),
        int(non_2xx.group(1)) if non_2xx else 0,
    )


def run_wrk(
    wrk: str, url: str, connections: int, seconds: float, pid: int | None = None
) -> tuple[float, ...]:
    """wrk's figures, plus the CPU microseconds per request of process `pid` (None without)."""
    argv = [wrk, "-t1", f"-c{connections}", f"-d{round(seconds)}s", "--latency", url]
    before = None if pid is None else cpu_seconds(pid)
    completed = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    cpu = None if before is None else cpu_us_per_request(pid, before, completed.stdout)
    return (*parse_wrk(completed.stdout), cpu)


def default_servers(python: str, event_loop: str = "uvloop") -> list[ServerSpec]:
    """One service process per function and the bare handler, all on `event_loop`."""
    suffix = "" if event_loop == "uvloop" else f"-{event_loop}"
    env = {"LAB_EVENT_LOOP": event_loop}
    servers = []
    *ports, port = support.free_ports(len(FUNCTIONS) + 1)
    for function, function_port in zip(FUNCTIONS, ports, strict=True):
        argv = (python, "-m", "app", "--function", function, "--port", str(function_port))
        servers.append(ServerSpec(f"service-{function}{suffix}", argv, function_port, env))
    argv = (python, "-m", "lab.bench", "--bare", str(port))
    servers.append(ServerSpec(f"bare{suffix}", argv, port, env, ready_path="/"))
    return servers


def default_targets(servers: Sequence[ServerSpec], event_loop: str = "uvloop") -> list[Target]:
    """The bare ceiling, then each function path compared with it."""
    suffix = "" if event_loop == "uvloop" else f"-{event_loop}"
    ports = {server.name: server.port for server in servers}
    bare = f"bare{suffix}"
    targets = [Target(bare, f"http://127.0.0.1:{ports[bare]}", ("/",))]
    for path in FUNCTION_PATHS:
        name = f"service-{path.split('/')[1]}{suffix}"
        targets.append(Target(name, f"http://127.0.0.1:{ports[name]}", (path,), bare))
    return targets


def measure(
    wrk: str,
    targets: Sequence[Target],
    connections: Sequence[int],
    seconds: float,
    rounds: int,
    pids: dict[str, int] | None = None,
) -> list[Measurement]:
    """`pids`: the server process of a target, whose CPU time per request is measured too."""
    pids = pids or {}
    samples: dict[tuple[str, str, int], list[tuple[float, ...]]] = {}
    for _ in range(rounds):
        for count in connections:
            for target in targets:
                for path in target.paths:
                    # Warm the path (first call compiles regexes, fills caches).
                    urllib.request.urlopen(target.base_url + path, timeout=5).read()
                    url = target.base_url + path
                    sample = run_wrk(wrk, url, count, seconds, pids.get(target.name))
                    samples.setdefault((target.name, path, count), []).append(sample)
                    print(
                        f"  {target.name:20} {path:18} c={count:<3} {sample[0]:9.0f} req/s",
                        file=sys.stderr,
                    )
    results = []
    for (name, path, count), runs in samples.items():
        results.append(
            Measurement(
                target=name,
                path=path,
                connections=count,
                requests_per_second=statistics.median(run[0] for run in runs),
                p50_ms=statistics.median(run[1] for run in runs),
                p99_ms=statistics.median(run[2] for run in runs),
                non_2xx=sum(int(run[3]) for run in runs),
                cpu_us_per_request=bench_tracing.median_or_none([run[4] for run in runs]),
            )
        )
    return results


def report(targets: Sequence[Target], results: Sequence[Measurement]) -> dict:
    index = {(m.target, m.path, m.connections): m for m in results}
    first_path = {target.name: target.paths[0] for target in targets}
    baseline_of = {target.name: target.baseline for target in targets}
    rows = []
    header = ("target", "path", "conns", "req/s", "p50 ms", "p99 ms", "ratio")
    print("{:20} {:18} {:>5} {:>9} {:>7} {:>7} {:>6}".format(*header))
    for m in results:
        baseline = baseline_of.get(m.target)
        ratio = None
        reference = index.get((baseline, first_path.get(baseline), m.connections))
        if reference is not None:
            ratio = m.requests_per_second / reference.requests_per_second
        rows.append({**asdict(m), "baseline": baseline, "ratio_to_baseline": ratio})
        print(
            f"{m.target:20} {m.path:18} {m.connections:>5} {m.requests_per_second:>9.0f} "
            f"{m.p50_ms:>7.3f} {m.p99_ms:>7.3f} {'' if ratio is None else f'{ratio:6.1%}':>6}"
        )
    # The default (uvloop) service targets are named service-<function>, without a suffix;
    # traefik-<function> serves the same path and must not stand in for the service.
    by_key = {
        (r["path"], r["connections"]): r
        for r in rows
        if r["target"].startswith("service-") and r["target"].count("-") == 1
    }
    ackermann_vs_fibonacci = {}
    for count in sorted({m.connections for m in results}):
        ack = by_key.get((LARGEST_PATHS["ackermann"], count))
        fib = by_key.get((FUNCTION_PATHS[0], count))
        if ack and fib:
            ackermann_vs_fibonacci[count] = ack["requests_per_second"] / fib["requests_per_second"]
            print(
                f"ackermann/3/4 vs fibonacci/10 at c={count}: {ackermann_vs_fibonacci[count]:.1%}"
            )
    return {"results": rows, "ackermann_vs_fibonacci": ackermann_vs_fibonacci}


def run_bare(port: int) -> None:
    """The ceiling: Tornado answering a constant, with nothing else per request (on
    uvloop unless LAB_EVENT_LOOP=asyncio, like the service)."""
    import asyncio

    import tornado.web
    import uvloop

    class ConstantHandler(tornado.web.RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(BARE_BODY)

    async def serve() -> None:
        tornado.web.Application([(r"/", ConstantHandler)]).listen(port, address="127.0.0.1")
        await asyncio.Event().wait()

    if os.environ.get("LAB_EVENT_LOOP", "uvloop") == "uvloop":
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(serve())


def traefik_server(direct: ServerSpec, workdir: Path) -> ServerSpec:
    """Traefik with the stack's configs, balancing over the one `direct` process."""
    web_port, api_port = support.free_ports(2)
    backends = {TRAEFIK_PATH.split("/")[1]: [f"http://127.0.0.1:{direct.port}"]}
    argv = support.traefik_argv(workdir, backends, web_port=web_port, api_port=api_port)
    return ServerSpec("traefik", tuple(argv), web_port, ready_path=TRAEFIK_PATH)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 3)))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)))
    parser.add_argument("--connections", default="1,32", help="comma-separated (default 1,32)")
    parser.add_argument(
        "--event-loops",
        default="uvloop",
        help="comma-separated: uvloop,asyncio measures what uvloop buys (default uvloop)",
    )
    parser.add_argument("--output", type=Path, default=BUILD / "bench.json")
    parser.add_argument(
        "--traefik", action="store_true", help=f"also measure {TRAEFIK_PATH} through Traefik"
    )
    parser.add_argument(
        "--traefik-only", action="store_true", help="only the direct vs Traefik comparison"
    )
    parser.add_argument("--results-md", type=Path, default=bench_results.RESULTS_MD)
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="also measure the fibonacci service with trace ids and exemplars off",
    )
    args = parser.parse_args(argv)
    args.traefik = args.traefik or args.traefik_only
    if args.bare is not None:
        run_bare(args.bare)
        return 0
    wrk = shutil.which("wrk")
    if wrk is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    connections = [int(c) for c in args.connections.split(",")]
    servers, targets = [], []
    for event_loop in args.event_loops.split(","):
        loop_servers = default_servers(sys.executable, event_loop)
        servers += loop_servers
        targets += default_targets(loop_servers, event_loop)
    direct_name = f"service-{TRAEFIK_PATH.split('/')[1]}"
    if args.traefik:
        direct = next(server for server in servers if server.name == direct_name)
        if args.traefik_only:
            servers = [direct]
            targets = [Target(direct_name, f"http://127.0.0.1:{direct.port}", (TRAEFIK_PATH,))]
        proxy = traefik_server(direct, BUILD / "bench-traefik")
        servers.append(proxy)  # after its backend, so its readiness probe can succeed
        targets.append(
            Target(TRAEFIK_TARGET, f"http://127.0.0.1:{proxy.port}", (TRAEFIK_PATH,), direct_name)
        )
    traced_name = f"service-{FUNCTIONS[0]}"
    if args.tracing:
        bench_tracing.add_untraced(servers, targets, traced_name, sample_path(FUNCTIONS[0]))
    machine_before = bench_results.machine_note()
    with ExitStack() as stack:
        children = {server.name: stack.enter_context(running(server)) for server in servers}
        pids = {}
        if args.tracing:
            pids = {name: children[name].process.pid for name in (traced_name, UNTRACED_TARGET)}
        results = measure(wrk, targets, connections, args.seconds, args.rounds, pids)
    summary = report(targets, results)
    summary["settings"] = {"seconds": args.seconds, "rounds": args.rounds, "cpus": os.cpu_count()}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.traefik:
        overhead = bench_results.traefik_overhead(results, direct_name)
        summary["traefik"] = {"overhead": overhead, "machine": machine_before}
        for count, row in overhead.items():
            print(
                f"Traefik at c={count}: +{row['added_p50_ms']:.3f} ms at p50,"
                f" {row['throughput_ratio']:.1%} of direct throughput"
            )
        bench_results.write_results_md(
            args.results_md, overhead, summary["settings"], machine_before
        )
        print(f"wrote {args.results_md}")
    if args.tracing:
        summary["tracing"] = bench_tracing.report(
            [m for m in results if m.path == sample_path(FUNCTIONS[0])], traced_name
        )
    args.output.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.output}")
    if args.traefik and not args.traefik_only:  # `make bench`: issue 14's log-loss figures too
        bench_log_loss.print_figures()
    return 0


if __name__ == "__main__":
    sys.exit(main())
