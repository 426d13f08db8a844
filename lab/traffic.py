"""`make traffic`: call every function through Traefik and say whether the lab answered right.

An asyncio load generator (Tornado's HTTP client, so no extra dependency). It mixes valid calls,
whose answers must name the function and arguments asked for (and, for the contract's sample
calls, give the known result), with invalid ones that must get a 400 or 404. It stops at
`--count` calls or after `--duration` seconds, whichever comes first, draws a progress bar on a
terminal and prints a summary table at the end. Any 5xx, connection error or wrong answer makes
the exit status non-zero, so it doubles as a smoke test.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from app.contract import FUNCTIONS
from lab import automation
from lab.calls import UNROUTED, Call, call_plan, judge
from lab.status import stack_outputs
from stack.settings import LabSettings, SettingsError

DEFAULT_COUNT = 600


@dataclass
class Outcome:
    call: Call
    status: int | None  # None: no HTTP answer at all
    seconds: float
    problem: str | None


@dataclass
class Results:
    outcomes: list[Outcome] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    finished: float | None = None

    @property
    def elapsed(self) -> float:
        return (self.finished or time.perf_counter()) - self.started

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.problem is not None]

    def status_counts(self) -> Counter:
        return Counter("error" if o.status is None else str(o.status) for o in self.outcomes)


async def fetch(client: AsyncHTTPClient, base_url: str, call: Call, timeout: float) -> Outcome:
    request = HTTPRequest(base_url + call.path, request_timeout=timeout, connect_timeout=timeout)
    started = time.perf_counter()
    try:
        response = await client.fetch(request, raise_error=False)
    except Exception as exc:  # refused, reset, timed out: all mean the lab did not answer
        seconds = time.perf_counter() - started
        return Outcome(call, None, seconds, f"connection error: {exc}")
    seconds = time.perf_counter() - started
    if response.code == 599:  # Tornado's code for "no HTTP response"
        return Outcome(call, None, seconds, f"connection error: {response.error}")
    return Outcome(call, response.code, seconds, judge(call, response.code, response.body or b""))


async def run(
    base_url: str,
    *,
    count: int | None,
    duration: float | None,
    concurrency: int,
    invalid_ratio: float,
    seed: int | None = None,
    timeout: float = 10.0,
    functions: tuple[str, ...] = FUNCTIONS,
    on_progress: Callable[[Results], None] | None = None,
    rate: float | None = None,
) -> Results:
    """Send calls until `count` are done or `duration` seconds have passed; with `rate`, the
    n-th call starts at n/rate seconds (a fixed schedule: a slow answer delays no later call
    while `concurrency` allows, so the rate stays constant)."""
    if count is None and duration is None:
        raise ValueError("give a count, a duration or both, or traffic never ends")
    base_url = base_url.rstrip("/")
    plan = call_plan(functions, invalid_ratio, seed)
    results = Results()
    deadline = None if duration is None else results.started + duration
    issued = 0
    client = AsyncHTTPClient(force_instance=True, max_clients=concurrency)

    async def next_call() -> Call | None:
        nonlocal issued
        if count is not None and issued >= count:
            return None
        due = None if rate is None else results.started + issued / rate
        if deadline is not None and (due or time.perf_counter()) >= deadline:
            return None
        issued += 1
        if due is not None and due > time.perf_counter():
            await asyncio.sleep(due - time.perf_counter())  # pacing the schedule
        return next(plan)

    async def worker() -> None:
        while (call := await next_call()) is not None:
            results.outcomes.append(await fetch(client, base_url, call, timeout))
            if on_progress is not None:
                on_progress(results)

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        client.close()
        results.finished = time.perf_counter()
    return results


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(results: Results) -> str:
    rows = [("function", "calls", "ok", "failed", "p50 ms", "p95 ms", "p99 ms")]
    groups: dict[str, list[Outcome]] = {}
    for outcome in results.outcomes:
        groups.setdefault(outcome.call.function, []).append(outcome)
    for function in sorted(groups, key=lambda f: (f == UNROUTED, f)):
        outcomes = groups[function]
        latencies = sorted(o.seconds * 1000 for o in outcomes if o.status is not None)
        failed = sum(o.problem is not None for o in outcomes)
        rows.append(
            (
                function,
                str(len(outcomes)),
                str(len(outcomes) - failed),
                str(failed),
                *(f"{percentile(latencies, q):.2f}" for q in (0.50, 0.95, 0.99)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    total = len(results.outcomes)
    rate = total / results.elapsed if results.elapsed > 0 else 0.0
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(results.status_counts().items()))
    failures = results.failures
    lines += [
        "",
        f"status codes: {statuses or 'none'}",
        f"{total} calls in {results.elapsed:.2f} s: {rate:.1f} req/s, {len(failures)} failed",
    ]
    kinds = Counter(
        (o.call.function, "no answer" if o.status is None else f"HTTP {o.status}") for o in failures
    )
    for (function, answer), times in sorted(kinds.items()):
        lines.append(f"  {function}: {times} failed with {answer}")
    for outcome in failures[:5]:
        lines.append(f"  e.g. GET {outcome.call.path[:60]}: {outcome.problem}")
    return "\n".join(lines)


class ProgressBar:
    """A one-line bar on a terminal; silent when stderr is a file or a pipe (CI logs)."""

    def __init__(
        self, stream: TextIO, count: int | None, duration: float | None, rate: float | None = None
    ) -> None:
        self.stream = stream
        self.rate = rate
        self.enabled = stream.isatty()
        self.count = count
        self.duration = duration
        self.last_drawn = 0.0
        self.results: Results | None = None  # kept so an interrupted run can still be summed up

    def __call__(self, results: Results) -> None:
        self.results = results
        now = time.perf_counter()
        if not self.enabled or now - self.last_drawn < 0.1:
            return
        self.last_drawn = now
        done, elapsed = len(results.outcomes), results.elapsed
        fractions = []
        if self.count:
            fractions.append(done / self.count)
        if self.duration:
            fractions.append(elapsed / self.duration)
        fraction = min(1.0, max(fractions))
        self.stream.write("\r" + progress_line(results, fraction, self.rate, self.duration))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()


def progress_line(
    results: Results, fraction: float, rate: float | None = None, duration: float | None = None
) -> str:
    """The live line: the bar, calls, the rate kept (and asked), failures, the time left."""
    done, elapsed = len(results.outcomes), results.elapsed
    kept = done / elapsed if elapsed else 0.0
    asked = f" of {rate:g}" if rate else ""
    left = f"  {max(0.0, duration - elapsed):.0f} s left" if duration else ""
    bar = "#" * int(fraction * 30)
    return (
        f"[{bar:<30}] {done} calls  {kept:.1f}{asked} req/s  {len(results.failures)} failed{left} "
    )


def seconds(text: str) -> float:
    """`--duration`: seconds, or a number with s, m or h (`10m`, as `make traffic DURATION=10m`)."""
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        value = float(number) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration such as 90, 30s or 10m"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a duration must be above zero")
    return value


def default_api_url() -> str:
    """Where the lab's API is: $LAB_API_URL, else the stack's api_url (deployed, or what its
    settings imply). SettingsError when the stack's config is invalid."""
    if os.environ.get("LAB_API_URL"):
        return os.environ["LAB_API_URL"]
    urls, _note = stack_outputs(automation.stack_settings())
    return urls.get("api", LabSettings().api_url)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make traffic", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="Traefik's API entrypoint (default: the stack's api_url)")
    parser.add_argument(
        "--count", type=int, help="calls to make (default 600 unless --duration; 0: no limit)"
    )
    parser.add_argument(
        "--duration", type=seconds, help="stop after this long (seconds, or 30s, 10m, 1h)"
    )
    parser.add_argument(
        "--rate", type=float, help="calls started per second, kept constant (with --duration)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight at once")
    parser.add_argument(
        "--invalid-ratio", type=float, default=0.2, help="share of calls that must be rejected"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call")
    parser.add_argument("--seed", type=int, help="make the call sequence reproducible")
    args = parser.parse_args(argv)
    if args.count is None and args.duration is None:
        args.count = DEFAULT_COUNT
    elif args.count == 0:
        args.count = None
    if args.count is None and args.duration is None:
        parser.error("--count 0 needs a --duration")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be above zero")
    if args.concurrency < 1 or not 0.0 <= args.invalid_ratio <= 1.0:
        parser.error("--concurrency must be >= 1 and --invalid-ratio within [0, 1]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        url = args.url or default_api_url()
    except SettingsError as error:
        print(f"lab: {error} (or give --url)", file=sys.stderr)
        return 1
    progress = ProgressBar(sys.stderr, args.count, args.duration, args.rate)
    print(f"calling {', '.join(FUNCTIONS)} through {url}", file=sys.stderr)
    try:
        results = asyncio.run(
            run(
                url,
                count=args.count,
                duration=args.duration,
                concurrency=args.concurrency,
                invalid_ratio=args.invalid_ratio,
                seed=args.seed,
                timeout=args.timeout,
                on_progress=progress,
                rate=args.rate,
            )
        )
    except KeyboardInterrupt:
        progress.close()
        print("interrupted", file=sys.stderr)
        if progress.results is not None:
            print(summary(progress.results))
        return 130
    progress.close()
    print(summary(results))
    if args.rate:
        kept = len(results.outcomes) / results.elapsed if results.elapsed else 0.0
        print(f"steady rate: {args.rate:g} calls/s asked, {kept:.2f} calls/s kept")
    return 1 if results.failures or not results.outcomes else 0


if __name__ == "__main__":
    sys.exit(main())
