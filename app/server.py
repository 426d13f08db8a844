"""The function service's process: settings from argv and environment, listen, drain on SIGTERM.

`run()` is `python -m app`: it parses the settings, picks the event loop and runs `main()`
under it; `main()` serves until SIGTERM or SIGINT and returns the exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app import faults
from app.access_log import configure_logging, lifecycle_logger
from app.compute import FUNCTIONS
from app.contract import (
    APP_PORT,
    IN_FLIGHT_TIMEOUT_SECONDS,
    LIFECYCLE_DATASET,
    MAX_DRAIN_SECONDS,
    service_name,
)
from app.handlers import ServiceState, make_app
from app.limits import BoundedHTTPServer

EVENT_LOOPS = ("uvloop", "asyncio")
# On SIGTERM the service first keeps serving while /health answers 503, long enough for
# Traefik's health check (every 2 s) to take the replica out of rotation; only then does it
# stop listening. Without this window a request Traefik had already routed here meets a
# closed socket and the client sees a 502.
DEFAULT_DRAIN_SECONDS = 3.5


@dataclass(frozen=True)
class Limits:
    # The API takes no body; a few bytes spare a client that sends an empty form or `{}`.
    max_body_bytes: int = 64
    # Request line and headers together. Larger heads are cut off unanswered: Tornado stops
    # reading at this size and cannot send a 431. Cookies for localhost from other local apps
    # travel with browser calls, hence more than a bare API needs.
    max_header_bytes: int = 32 * 1024
    # Answered with 431: parsing and storing thousands of small fields costs CPU and memory.
    max_header_count: int = 100
    # From the connection's start until its first request head is complete.
    header_timeout_seconds: float = 10.0
    # For a body within max_body_bytes to arrive once its head has.
    body_timeout_seconds: float = 5.0
    # Between requests on a keep-alive connection. Above Traefik's idle timeout for its pooled
    # connections (90 s), so Traefik closes them first and never reuses one this side closed.
    idle_timeout_seconds: float = 120.0
    # Open connections per replica. At the cap a new connection replaces the one that has
    # waited longest for a request head; only when every connection is busy is it refused.
    max_connections: int = 1000


# The variable of each limit; unset means Limits' default.
LIMIT_VARIABLES: Mapping[str, str] = {
    "max_body_bytes": "LAB_MAX_BODY_BYTES",
    "max_header_bytes": "LAB_MAX_HEADER_BYTES",
    "max_header_count": "LAB_MAX_HEADER_COUNT",
    "header_timeout_seconds": "LAB_HEADER_TIMEOUT_SECONDS",
    "body_timeout_seconds": "LAB_BODY_TIMEOUT_SECONDS",
    "idle_timeout_seconds": "LAB_IDLE_TIMEOUT_SECONDS",
    "max_connections": "LAB_MAX_CONNECTIONS",
}


@dataclass(frozen=True)
class Settings:
    function: str
    host: str = "127.0.0.1"
    port: int = APP_PORT
    # uvloop when importable; asyncio is the fallback and the choice for comparisons.
    event_loop: str = "uvloop"
    drain_seconds: float = DEFAULT_DRAIN_SECONDS
    # Tests only (LAB_TEST_DELAY_MS): hold each call so a test can catch one in flight.
    call_delay_seconds: float = 0.0
    limits: Limits = Limits()


def parse_settings(argv: Sequence[str] | None, environ: Mapping[str, str]) -> Settings:
    """Command line over environment over defaults (docs/contract.md); a bad value is a
    usage error (exit 2) that names the variable."""
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--function",
        choices=sorted(FUNCTIONS),
        default=environ.get("LAB_FUNCTION"),
        help="the function to serve (env LAB_FUNCTION)",
    )
    parser.add_argument(
        "--host",
        default=environ.get("LAB_HOST", Settings.host),
        help=f"address to listen on (env LAB_HOST, default {Settings.host})",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=environ.get("LAB_PORT", str(APP_PORT)),
        help=f"port to listen on (env LAB_PORT, default {APP_PORT})",
    )
    args = parser.parse_args(argv)
    if args.function is None:
        parser.error("--function or LAB_FUNCTION is required")
    if args.function not in FUNCTIONS:
        parser.error(f"LAB_FUNCTION must be one of {', '.join(sorted(FUNCTIONS))}")
    event_loop = environ.get("LAB_EVENT_LOOP", Settings.event_loop)
    if event_loop not in EVENT_LOOPS:
        parser.error(f"LAB_EVENT_LOOP must be one of {', '.join(EVENT_LOOPS)}, got {event_loop!r}")
    raw_drain = environ.get("LAB_DRAIN_SECONDS", str(DEFAULT_DRAIN_SECONDS))
    try:
        drain_seconds = float(raw_drain)
    except ValueError:
        drain_seconds = -1.0
    if not 0 <= drain_seconds <= MAX_DRAIN_SECONDS:
        parser.error(
            f"LAB_DRAIN_SECONDS must be a number from 0 to {MAX_DRAIN_SECONDS:g}, got {raw_drain!r}"
        )
    return Settings(
        function=args.function,
        host=args.host,
        port=args.port,
        event_loop=event_loop,
        drain_seconds=drain_seconds,
        call_delay_seconds=float(environ.get("LAB_TEST_DELAY_MS", "0")) / 1000,
        limits=parse_limits(parser, environ),
    )


def parse_limits(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> Limits:
    """Limits from LIMIT_VARIABLES: each a number above 0 (a whole one for sizes and counts;
    the body size may be 0, no body at all)."""
    values: dict[str, int | float] = {}
    for field in dataclasses.fields(Limits):
        variable = LIMIT_VARIABLES[field.name]
        raw = environ.get(variable)
        if raw is None:
            continue
        kind = type(field.default)
        try:
            value = kind(raw)
        except ValueError:
            value = -1
        zero_allowed = field.name == "max_body_bytes"
        if not (math.isfinite(value) and (value > 0 or (zero_allowed and value == 0))):
            what = "a whole number" if kind is int else "a number"
            bound = "of 0 or more" if zero_allowed else "above 0"
            parser.error(f"{variable} must be {what} {bound}, got {raw!r}")
        values[field.name] = value
    return Limits(**values)


async def serve(settings: Settings) -> None:
    """Listen until SIGTERM or SIGINT; then answer /health with 503 for the drain window
    (SIGTERM only: Ctrl-C wants the process gone), stop listening, let the requests in
    flight finish and return."""
    app = make_app(
        settings.function,
        call_delay_seconds=settings.call_delay_seconds,
        memory_limit_bytes=faults.memory_limit_bytes(),
    )
    state: ServiceState = app.settings["lab_state"]
    server = BoundedHTTPServer(app, settings.limits)
    # A backlog as deep as the connection cap, so a burst of new connections (Traefik opening
    # its pool, a flood being evicted) waits in the kernel instead of losing SYNs for a second.
    server.listen(settings.port, address=settings.host, backlog=settings.limits.max_connections)
    stop_requested = asyncio.Event()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        stop_requested.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    # The loop actually running, which is what a comparison of loops needs to know.
    event_loop = type(loop).__module__.split(".")[0]
    name = service_name(settings.function)
    lifecycle = {
        "event.dataset": LIFECYCLE_DATASET,
        "lab.function": settings.function,
        "server.address": settings.host,
        "server.port": settings.port,
    }
    faults.install(state.faults, loop, lifecycle_logger, lifecycle)
    lifecycle_logger.info(
        f"{name} listening on {settings.host}:{settings.port} ({event_loop})",
        extra={**lifecycle, "event.action": "service-start", "lab.event_loop": event_loop},
    )
    await stop_requested.wait()
    drain_seconds = settings.drain_seconds if received[0] == signal.SIGTERM else 0.0
    if drain_seconds > 0:
        state.draining = True
        lifecycle_logger.info(
            f"{name} draining for {drain_seconds:g} s",
            extra={
                **lifecycle,
                "event.action": "service-drain",
                "lab.drain_seconds": drain_seconds,
            },
        )
        await asyncio.sleep(drain_seconds)
    server.stop()  # no new connections from here on
    deadline = loop.time() + IN_FLIGHT_TIMEOUT_SECONDS
    while state.active_requests > 0 and loop.time() < deadline:
        await asyncio.sleep(0.01)
    unfinished = state.active_requests
    await server.close_all_connections()  # idle keep-alive connections
    lifecycle_logger.info(
        f"{name} stopped",
        extra={**lifecycle, "event.action": "service-stop", "lab.unfinished_requests": unfinished},
    )


async def main(settings: Settings) -> int:
    configure_logging(settings.function)
    await serve(settings)
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m app`: main() under asyncio.run, on uvloop when the settings
    ask for it and it is importable."""
    settings = parse_settings(argv, os.environ)
    if settings.event_loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            # uvloop.run is asyncio.run with uvloop's loop, no global policy change.
            return uvloop.run(main(settings))
    return asyncio.run(main(settings))
