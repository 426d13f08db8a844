"""`make local`: the lab as plain processes on 127.0.0.1, with no Docker and no Pulumi.

`LocalLab` runs the function replicas, Traefik and (when installed) Prometheus with the configs
stack/configs/ renders for the real stack; the dashboards' PromQL tests and the front-door tests
reuse it, so its constructor arguments and properties are a stable interface.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from app.contract import FUNCTIONS, sample_path
from dashboards import prometheus_rules
from lab import local_host, local_probes, support
from lab.support import Child, LabError
from stack.configs import prometheus_yaml
from stack.settings import PORTS, LabSettings

# The stack's published ports, so `make traffic` and `make status` find `make local`.
DEFAULT_PORTS = {key: PORTS[key] for key in ("api", "traefik", "prometheus")}


class LabStartError(LabError):
    """A part did not come up; the message carries the tail of its log."""


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
        functions: Sequence[str] = FUNCTIONS,
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
        # Traefik first, so no request reaches a replica that is going away.
        support.stop(sorted(self.children, key=lambda c: c.name != "traefik"))
        self.children = []
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def _prepare(self) -> None:
        if self._requested_workdir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="lab-local-")
            self.workdir = Path(self._tempdir.name)
        else:
            self.workdir = Path(self._requested_workdir)
            self.workdir.mkdir(parents=True, exist_ok=True)
            # Series from an earlier run (other ports, other replicas) would muddle the graphs.
            shutil.rmtree(self.workdir / "prometheus-data", ignore_errors=True)
        (self.workdir / support.LOCAL_LOGS_DIR).mkdir(exist_ok=True)
        keys = ["api", "traefik", "prometheus", "blackbox", local_host.JOB] + [
            f"{f}-{i}" for f in self.functions for i in range(1, self.replicas + 1)
        ]
        taken: set[int] = set()
        for key in keys:
            port = self._requested_ports.get(key)
            while port is None or port in taken:
                port = support.free_port()
            taken.add(port)
            self.ports[key] = port

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Child:
        assert self.workdir is not None
        log_path = self.workdir / support.LOCAL_LOGS_DIR / f"{name}.log"
        child = support.start(name, argv, log_path, env={"PYTHONUNBUFFERED": "1", **(env or {})})
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
        argv = support.traefik_argv(
            self.workdir,
            self.service_urls,
            web_port=self.ports["api"],
            api_port=self.ports["traefik"],
        )
        self._spawn("traefik", argv)

    def _start_prometheus(self) -> None:
        assert self.workdir is not None
        assert self.prometheus_path is not None
        # The dashboards' recording and alerting rules, as in the stack.
        rules = self.workdir / "rules.yml"
        rules.write_text(prometheus_rules.render(self.functions))
        config = self.workdir / "prometheus.yml"
        config.write_text(
            prometheus_yaml.render(
                function_targets={
                    function: [url.removeprefix("http://") for url in urls]
                    for function, urls in self.service_urls.items()
                },
                traefik_target=f"127.0.0.1:{self.ports['traefik']}",
                self_target=f"127.0.0.1:{self.ports['prometheus']}",
                rule_files=[str(rules)],
                scrape_interval=self.scrape_interval,
                extra_jobs=self._start_probes(),
            )
        )
        argv = [self.prometheus_path, f"--config.file={config}", *prometheus_yaml.FEATURE_FLAGS]
        argv += [f"--storage.tsdb.path={self.workdir / 'prometheus-data'}"]
        argv += [f"--web.listen-address=127.0.0.1:{self.ports['prometheus']}"]
        self._spawn("prometheus", argv)

    def _start_probes(self) -> list[dict]:
        """The black-box exporter and node-exporter, with their scrape jobs, when installed."""
        parts = {"traefik": self.traefik_url, "prometheus": self.prometheus_url}
        jobs = local_probes.start(self, self.ports["blackbox"], parts)
        return jobs + local_host.start(self, self.ports[local_host.JOB])

    def _readiness_probes(self) -> list[tuple[str, str]]:
        probes = [
            (f"{function}-{i}", f"{url}/health")
            for function, urls in self.service_urls.items()
            for i, url in enumerate(urls, start=1)
        ]
        probes.append(("traefik", f"{self.traefik_url}/ping"))
        # One valid call per function: proves Traefik routes it and a replica answers.
        probes += [("traefik", self.api_url + sample_path(f)) for f in self.functions]
        if self.prometheus_url:
            probes.append(("prometheus", f"{self.prometheus_url}/-/ready"))
        return probes

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        by_name = {child.name: child for child in self.children}
        for name, url in self._readiness_probes():
            child = by_name[name]
            try:
                support.wait_for_http(
                    url, timeout=max(0.0, deadline - time.monotonic()), process=child.process
                )
            except support.NotReady as error:
                raise LabStartError(
                    f"{name}: {error}; its log ({child.log_path}):\n{child.log_tail()}"
                ) from None

    def wait_for_targets(self, timeout: float = 30.0) -> dict[str, str]:
        """Block until Prometheus has scraped every target successfully; job -> "up".

        Prometheus starts scraping only after its first config load and spreads targets over
        the interval, so a query made right after start() can still see no series.
        """
        if not self.prometheus_url:
            raise RuntimeError("this lab runs without Prometheus")
        # Every replica, Traefik, Prometheus itself, each probe and node-exporter when installed.
        expected = len(self.functions) * self.replicas + 2
        names = {child.name for child in self.children}
        if "blackbox" in names:
            expected += len(self.functions) + len(local_probes.LOCAL_PARTS)
        expected += local_host.JOB in names
        health: dict[str, str] = {}

        def all_up() -> bool:
            answer = support.get_json(f"{self.prometheus_url}/api/v1/targets") or {}
            targets = answer.get("data", {}).get("activeTargets", [])
            health.clear()
            health.update((t["labels"]["job"], t["health"]) for t in targets)
            return len(targets) == expected and all(t["health"] == "up" for t in targets)

        try:
            support.wait_until(all_up, timeout=timeout, interval=0.2)
        except support.NotReady:
            raise TimeoutError(f"Prometheus targets not all up in {timeout} s: {health}") from None
        return dict(health)

    def exited(self) -> list[Child]:
        """Children that stopped on their own (a crash, a port taken meanwhile)."""
        return [child for child in self.children if child.process.poll() is not None]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=LabSettings().replicas)
    for key, port in DEFAULT_PORTS.items():
        parser.add_argument(f"--{key}-port", type=int, default=port)
    parser.add_argument(
        "--free-ports", action="store_true", help="pick free ports instead of 8000/8080/9090"
    )
    parser.add_argument("--no-prometheus", action="store_true", help="skip Prometheus")
    parser.add_argument("--scrape-interval", default="5s")
    parser.add_argument("--workdir", default=str(support.LOCAL_WORKDIR))
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
    chosen = {key: getattr(args, f"{key}_port") for key in DEFAULT_PORTS}
    lab = LocalLab(
        replicas=args.replicas,
        with_prometheus=False if args.no_prometheus else None,
        scrape_interval=args.scrape_interval,
        ports={} if args.free_ports else chosen,
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
            print(f"logs: {lab.workdir / support.LOCAL_LOGS_DIR}/", flush=True)
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
    except LabError as error:
        print(f"the lab did not start: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
