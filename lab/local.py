"""`make local`: the lab as plain processes on 127.0.0.1, with no Docker and no Pulumi.

`LocalLab` runs the function replicas, Traefik and (when installed) Prometheus with the configs
stack/configs/ renders for the real stack; the dashboards' PromQL tests and the front-door tests
reuse it, so its constructor arguments and properties are a stable interface.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from app.contract import FUNCTIONS, sample_path
from app.faults import MEMORY_LIMIT_VARIABLE
from dashboards import prometheus_rules
from lab import local_host, local_probes, support
from lab.support import Child, LabError
from stack.configs import prometheus_yaml
from stack.settings import MEMORY_MB, PORTS

# Written into the workdir once every process answers; gone when the lab stops.
MANIFEST = "lab.json"
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
            self._write_manifest()
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
        if self.workdir is not None:
            (self.workdir / MANIFEST).unlink(missing_ok=True)
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
        (self.workdir / "logs").mkdir(exist_ok=True)
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

    def _write_manifest(self) -> None:
        """Each process and address, for `make incident` (lab/incident_targets.py)."""
        assert self.workdir is not None
        pids = {child.name: child.process.pid for child in self.children}
        urls = {"api": self.api_url, "prometheus": self.prometheus_url}
        (self.workdir / MANIFEST).write_text(json.dumps({"pids": pids, "urls": urls}))

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Child:
        assert self.workdir is not None
        log_path = self.workdir / "logs" / f"{name}.log"
        child = support.start(name, argv, log_path, env={"PYTHONUNBUFFERED": "1", **(env or {})})
        self.children.append(child)
        return child

    def _start_services(self) -> None:
        for function in self.functions:
            for i in range(1, self.replicas + 1):
                port = self.ports[f"{function}-{i}"]
                argv = [sys.executable, "-m", "app", "--function", function]
                argv += ["--host", "127.0.0.1", "--port", str(port)]
                # Traefik stops first here, so no drain window is needed on SIGTERM; no cgroup
                # either, so the replica is told the memory limit a container would get.
                limit = {MEMORY_LIMIT_VARIABLE: str(MEMORY_MB["function"])}
                self._spawn(f"{function}-{i}", argv, {"LAB_DRAIN_SECONDS": "0", **limit})

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
        argv = [self.prometheus_path, f"--config.file={config}"]
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


if __name__ == "__main__":
    from lab.local_cli import main

    sys.exit(main())
