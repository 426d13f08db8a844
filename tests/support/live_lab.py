"""The running lab the live and testinfra tests check, for either target.

`--lab-target=harness` (the default, `make test`): capture the program under mocks with a
`livetest` stack whose images are the offline stand-ins and whose host ports are free ones,
apply it with tests/support/harness.py, tear it down at the end (also on failure, interrupt or
SIGTERM). `--lab-target=stack` (`make verify`): describe the stack `make up` brought up
(Pulumi.<stack>.yaml, default `dev`) and check the containers already running; create nothing.
"""

from __future__ import annotations

import atexit
import os
import signal
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import docker
import requests

from lab.automation import project_name
from lab.support import free_port, free_ports
from stack.configs import web_config
from stack.settings import LabSettings, parse, strip_namespace
from tests.support.declared import (
    CAPTURE_DIR,
    REPO_ROOT,
    Declared,
    capture,
    stack_config,
)
from tests.support.harness import CONTAINER, Harness, remove_stale

# LAB_HARNESS_STACK lets two checkouts run the live suite on one daemon without removing each
# other's containers (the stale-object sweep is by this stack label).
HARNESS_STACK = os.environ.get("LAB_HARNESS_STACK", "livetest")
STANDIN_IMAGES = {
    "python": "lab-standin/python:3.11",
    "traefik": "lab-standin/traefik:3.7.15",
    "prometheus": "lab-standin/prometheus:2.42",
    # Issue 12's parts, from Debian's packages (scripts/build_images.sh).
    "alertmanager": "lab-standin/alertmanager:0.25",
    "blackbox": "lab-standin/blackbox-exporter:0.23",
    "node_exporter": "lab-standin/node-exporter:1.5",
    # Debian's 1.5 package (the stack pins v1.9.0): only applied with lab:logs on.
    "elasticsearch_exporter": "lab-standin/elasticsearch-exporter:1.5",
}
# Functions, Traefik and Prometheus are what can run here (DESIGN.md).
HARNESS_PARTS = {"lab:metrics": True, "lab:grafana": False, "lab:logs": False}
# Run ids of the harness stacks applied in this process (tests/live/conftest.py checks them).
HARNESS_RUNS: list[str] = []
PORT_KEYS = (
    "api",
    "traefik",
    "prometheus",
    "grafana",
    "elasticsearch",
    "kibana",
    "gelf",
    "alertmanager",
)


def harness_config(ports: Mapping[str, int], **overrides: object) -> dict[str, object]:
    return {
        **HARNESS_PARTS,
        "lab:replicas": 2,
        "lab:bindAddress": "127.0.0.1",
        "lab:images": STANDIN_IMAGES,
        "lab:ports": dict(ports),
        # The tests read Prometheus and Alertmanager at their own ports, signed in (issue 22).
        "lab:publishMonitoringPorts": True,
        **overrides,
    }


@dataclass
class LiveLab:
    """What the tests need to know about the running lab: declared containers, ports, parts."""

    project: str
    stack: str
    config: dict[str, object]
    resources: list[Declared]
    client: docker.DockerClient
    harness: Harness | None = None
    containers: dict[str, Mapping] = field(init=False)

    def __post_init__(self) -> None:
        self.containers = {
            r.inputs["name"]: r.inputs for r in self.resources if r.type == CONTAINER
        }

    @property
    def settings(self) -> LabSettings:
        """The stack's config read as the program reads it (one grammar, same defaults)."""
        return parse(strip_namespace(self.config))

    @property
    def ports(self) -> dict[str, int]:
        return dict(self.settings.ports)

    @property
    def monitoring_login(self) -> tuple[str, str]:
        """Prometheus' and Alertmanager's login for the lab's own clients, as declared (the
        password file the program uploads to Prometheus)."""
        inputs = self.containers[self.the_container("prometheus")]
        (password,) = [
            u["content"] for u in inputs["uploads"] if u["file"] == web_config.PASSWORD_FILE
        ]
        return web_config.MONITORING_USER, password

    def url(self, port_key: str) -> str:
        return self.settings.url(port_key)

    def query(self, expr: str, at: float | None = None, timeout: float = 10) -> list[dict]:
        """Prometheus' instant query (now, or at unix time `at`), signed in as the lab's
        monitoring user; the result vector."""
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        response = requests.get(
            self.url("prometheus") + "/api/v1/query",
            params=params,
            auth=self.monitoring_login,
            timeout=timeout,
        )
        response.raise_for_status()
        return response.json()["data"]["result"]

    @staticmethod
    def labels_of(inputs: Mapping) -> dict[str, str]:
        return {block["label"]: block["value"] for block in inputs.get("labels") or ()}

    def containers_of_part(self, part: str) -> dict[str, Mapping]:
        return {
            name: inputs
            for name, inputs in self.containers.items()
            if self.labels_of(inputs).get("lab.part") == part
            or self.labels_of(inputs).get("lab.function") == part
        }

    @property
    def parts(self) -> set[str]:
        """The parts this stack runs, read from the declared containers' labels."""
        found = set()
        for inputs in self.containers.values():
            labels = self.labels_of(inputs)
            found.add(labels.get("lab.function") or labels.get("lab.part"))
        return found - {None}

    def replicas(self, function: str) -> list[str]:
        return sorted(
            name
            for name, inputs in self.containers.items()
            if self.labels_of(inputs).get("lab.function") == function
        )

    def the_container(self, part: str) -> str:
        (name,) = self.containers_of_part(part)
        return name


def target_stack(target: str, ports: Mapping[str, int]) -> tuple[str, dict[str, object]]:
    """The stack a `--lab-target` checks and its config: the user's stack (LAB_STACK, default
    `dev`) as Pulumi.<stack>.yaml gives it, or the harness stack on these host ports."""
    if target == "stack":
        stack = os.environ.get("LAB_STACK", "dev")
        return stack, stack_config(stack)
    return HARNESS_STACK, harness_config(ports)


def open_lab(target: str, client: docker.DockerClient) -> Iterator[LiveLab]:
    """Generator body of the session fixture `lab`."""
    project = project_name()
    if target == "stack":
        stack, config = target_stack(target, {})
        resources = capture(project, stack, config)
        lab = LiveLab(project, stack, config, resources, client)
        missing = [
            name
            for name in lab.containers
            if not client.containers.list(all=True, filters={"name": f"^{name}$"})
        ]
        if missing:
            raise RuntimeError(f"stack {stack} is not up (make up): no container {missing}")
        yield lab
        return

    remove_stale(client)
    ports = dict(zip(PORT_KEYS, free_ports(len(PORT_KEYS)), strict=True))
    stack, config = target_stack(target, ports)
    resources = capture(project, stack, config)
    harness = Harness(client, CAPTURE_DIR)
    HARNESS_RUNS.append(harness.run_id)
    atexit.register(harness.teardown)
    previous_sigterm = signal.getsignal(signal.SIGTERM)
    if previous_sigterm is signal.SIG_DFL:
        # A CI timeout's SIGTERM becomes an exception, so the finalizer below still runs.
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        harness.apply(project, stack, resources)
        yield LiveLab(project, stack, config, resources, client, harness)
    finally:
        harness.teardown()
        atexit.unregister(harness.teardown)
        if previous_sigterm is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def declared_with(lab: LiveLab, **overrides: object) -> list[Declared]:
    """The same program and stack, declared with other config (e.g. the logs part on)."""
    return capture(lab.project, lab.stack, {**lab.config, **overrides})


__all__ = ["REPO_ROOT", "LiveLab", "declared_with", "free_port", "open_lab"]
