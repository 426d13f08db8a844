"""The live Swarm suite's cluster: three Docker-in-Docker nodes (tests/support/swarm_cluster.py),
one per session, with the Python stand-in image loaded on every node.

The cluster is removed at the end of the session, also on failure or SIGTERM; the session-end
hook then turns the run red if anything of it is still on the host.
"""

from __future__ import annotations

import time

import docker.errors
import docker.types
import pytest

from tests.conftest import missing
from tests.support.cleanup_report import report_leftovers
from tests.support.swarm_cluster import DEFAULT_PREFIX, NODE_IMAGE, SwarmCluster, cluster_leftovers
from tests.swarm.services import HEALTHCHECK, OVERLAY, PYTHON_IMAGE, REPLICAS, WEB, server_service

# Published on 127.0.0.1 of the host from the manager node, for a service that publishes the
# same port in host mode there (Traefik's entrypoint).
FRONT_PORT = 8000
_CLUSTERS_UP: list[str] = []
# The numbers the suite measured, printed at the end of the run (also without -s).
NUMBERS: list[str] = []


def report(line: str) -> None:
    NUMBERS.append(line)
    print(line)


def require_images(docker_client, *tags: str) -> None:
    for tag in tags:
        try:
            docker_client.images.get(tag)
        except docker.errors.ImageNotFound:
            missing(f"image {tag} is missing (bash scripts/build_images.sh builds it)")


@pytest.fixture(scope="session")
def swarm(docker_client):
    """A three-node swarm (node1 manager with lab.state=true, node2 and node3 workers)."""
    require_images(docker_client, NODE_IMAGE, PYTHON_IMAGE)
    _CLUSTERS_UP.append(DEFAULT_PREFIX)
    with SwarmCluster(docker_client, manager_ports=[FRONT_PORT]) as cluster:
        cluster.load_images([PYTHON_IMAGE])
        yield cluster
    report(f"teardown: {timings_line(cluster.timings, 'down')}")


@pytest.fixture(scope="session")
def overlay(swarm):
    """An attachable overlay network: services and plain containers on any node join it."""
    return swarm.manager.client.networks.create(
        OVERLAY, driver="overlay", attachable=True, labels={"lab.swarm-test": "1"}
    )


@pytest.fixture(scope="session")
def web(swarm, overlay):
    """3 replicas, dnsrr, spread over nodes, health-checked, rolling updates start-first."""
    started = time.monotonic()
    service = server_service(
        swarm,
        WEB,
        mode=docker.types.ServiceMode("replicated", replicas=REPLICAS),
        preferences=[("spread", "node.id")],
        healthcheck=HEALTHCHECK,
        update_config=docker.types.UpdateConfig(parallelism=1, order="start-first"),
        restart_policy=docker.types.RestartPolicy(condition="any"),
        init=True,
    )
    swarm.wait_running(WEB, REPLICAS, timeout=90)
    report(
        f"service {WEB}: {REPLICAS} tasks running and healthy {time.monotonic() - started:.1f} s"
    )
    return service


def timings_line(timings: dict[str, float], *prefixes: str) -> str:
    chosen = {k: v for k, v in timings.items() if not prefixes or k.split(":")[0] in prefixes}
    return ", ".join(f"{k} {v:.1f} s" for k, v in chosen.items())


def pytest_sessionfinish(session, exitstatus):
    if not _CLUSTERS_UP:
        return
    client = docker.from_env()
    left = [item for prefix in set(_CLUSTERS_UP) for item in cluster_leftovers(client, prefix)]
    clean = f"nothing left of clusters {sorted(set(_CLUSTERS_UP))}"
    report_leftovers(session, "swarm cleanup", left, clean)


def pytest_terminal_summary(terminalreporter):
    if NUMBERS:
        terminalreporter.section("swarm numbers")
        for line in NUMBERS:
            terminalreporter.write_line(line)


# Last, as it imports `report` from here: collected where test_lab_on_swarm.py imports it.
from tests.swarm.trace_support import test_trace_id_everywhere  # noqa: E402, F401
