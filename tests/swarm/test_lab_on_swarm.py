"""The lab's Swarm target on the three-node cluster: what `lab:engine: swarm` declares (captured
under mocks) applied to the manager, then traffic through Traefik while a worker is drained, a
function is rolled to a new image and a worker is killed. Prints the numbers.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request

import pytest

from app.contract import APP_PORT, APP_USER
from tests.support.declared import capture
from tests.support.live_lab import STANDIN_IMAGES
from tests.support.swarm_cluster import wait_for
from tests.support.swarm_harness import IMAGE, SWARM_SERVICE, SwarmHarness
from tests.support.swarm_nodes import copy_images
from tests.swarm.conftest import FRONT_PORT, report

pytestmark = [pytest.mark.live, pytest.mark.slow]

STACK = "swarmlab"
APP_IMAGE = "lab-standin/app:latest"
ROLLOUT_IMAGE = "lab-standin/app:rollout"
REPLICAS = 2
FUNCTION = "fibonacci"
CONFIG = {
    "lab:engine": "swarm",
    "lab:logs": False,
    "lab:grafana": False,
    "lab:replicas": REPLICAS,
    "lab:images": STANDIN_IMAGES,
    "lab:ports": {"api": FRONT_PORT},
}


def service(part: str) -> str:
    return f"lab-{STACK}-{part}"


class Traffic:
    """Calls /fibonacci/10/ through Traefik from a few threads; notes when calls fail."""

    def __init__(self, url: str, threads: int = 4, timeout: float = 10.0) -> None:
        self.url, self.timeout = url, timeout
        self.ok = 0
        self.failures: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with urllib.request.urlopen(self.url, timeout=self.timeout) as answer:
                    assert json.load(answer)["result"] == "55"
                self.ok += 1
            except Exception as error:  # every kind of failure counts
                self.failures.append((time.monotonic(), repr(error)[:120]))
                time.sleep(0.05)

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)


def prometheus_instances(swarm, job: str) -> set[str]:
    """Instances of `up{job=...} == 1`, asked inside the Prometheus task on the state node."""
    (container,) = swarm.manager.client.containers.list(
        filters={"label": f"com.docker.swarm.service.name={service('prometheus')}"}
    )
    query = urllib.parse.quote(f'up{{job="{job}"}} == 1')
    code, output = container.exec_run(
        ["wget", "-qO-", f"http://localhost:9090/api/v1/query?query={query}"]
    )
    if code:
        return set()
    return {r["metric"]["instance"] for r in json.loads(output)["data"]["result"]}


def task_instances(swarm, part: str) -> set[str]:
    network = f"lab-{STACK}-network"
    return {
        f"{task['addresses'][network][0]}:{APP_PORT}"
        for task in swarm.tasks(service(part))
        if task["state"] == "running"
    }


@pytest.fixture(scope="module")
def lab(swarm):
    started = time.monotonic()
    resources = capture("lab", STACK, CONFIG)
    (app,) = [r.inputs["imageName"] for r in resources if r.type == IMAGE]
    loads = swarm.load_images([APP_IMAGE])
    copy_images(swarm.host, [swarm.manager], [STANDIN_IMAGES["traefik"]])
    copy_images(swarm.host, [swarm.manager], [STANDIN_IMAGES["prometheus"]])
    harness = SwarmHarness(swarm.manager.client, images={app: APP_IMAGE}, run_id=STACK)
    try:
        harness.apply(resources)
        for part in ("fibonacci", "factorial", "ackermann"):
            swarm.wait_running(service(part), REPLICAS, timeout=120)
        swarm.wait_running(service("traefik"), 1, timeout=60)
        swarm.wait_running(service("prometheus"), 1, timeout=60)
        url = f"http://127.0.0.1:{swarm.manager.host_ports[FRONT_PORT]}/{FUNCTION}/10/"
        wait_for("Traefik answers", lambda: _answers(url), 60, interval=0.5)
        report(
            f"swarm lab: {len(harness.services)} services, {len(harness.configs)} configs up and "
            f"answering through Traefik {time.monotonic() - started:.1f} s after capture "
            f"(app image loaded per node: {', '.join(f'{v:.1f} s' for v in loads.values())})"
        )
        yield harness, url
    finally:
        clients = [node.client for node in swarm.nodes if _alive(node)]
        removed = harness.teardown(clients, volume_label=f"lab.stack={STACK}")
        # Task containers go a moment after their service.
        left = wait_for(
            "nothing of the lab left on any node",
            lambda: not harness.leftovers(clients, f"lab.stack={STACK}"),
            60,
            interval=0.5,
        )
        report(
            f"swarm lab teardown: removed {len(removed)} objects, nothing left on "
            f"{len(clients)} nodes"
        )
        assert left


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except Exception:
        return False


def _alive(node) -> bool:
    try:
        return bool(node.client.ping())
    except Exception:
        return False


def test_function_tasks_spread_and_prometheus_finds_them(swarm, lab):
    nodes = {task["node"] for task in swarm.tasks(service(FUNCTION))}
    assert len(nodes) >= 2, nodes
    expected = task_instances(swarm, FUNCTION)
    found = wait_for(
        "Prometheus scrapes every task",
        lambda: prometheus_instances(swarm, FUNCTION) == expected,
        60,
        interval=1,
    )
    assert found
    report(f"{FUNCTION}: tasks on {sorted(nodes)}; Prometheus up for {sorted(expected)}")


def test_each_node_runs_its_tasks_healthy_and_hardened(swarm, lab):
    """Per node, as testinfra would: every task container healthy, its user, read-only root
    and dropped capabilities for the functions, Traefik's port published on the manager."""
    harness, _ = lab
    seen: dict[str, list[str]] = {}
    for node in swarm.nodes:
        for container in node.client.containers.list(filters={"label": SWARM_SERVICE}):
            name = container.labels[SWARM_SERVICE]
            if name not in harness.services:
                continue
            attrs = container.attrs
            assert attrs["State"]["Health"]["Status"] == "healthy", (node.name, container.name)
            if "lab.function" in container.labels:
                assert attrs["Config"]["User"] == APP_USER
                assert attrs["HostConfig"]["ReadonlyRootfs"]
                assert attrs["HostConfig"]["CapDrop"] == ["ALL"]
            if name == service("traefik"):
                assert node.is_manager
                ports = attrs["NetworkSettings"]["Ports"][f"{FRONT_PORT}/tcp"]
                assert {int(p["HostPort"]) for p in ports} == {FRONT_PORT}
            seen.setdefault(node.name, []).append(name.removeprefix(f"lab-{STACK}-"))
    report("tasks per node: " + "; ".join(f"{n}: {sorted(t)}" for n, t in sorted(seen.items())))
    assert len(seen) == len(swarm.nodes), seen


def test_drain_under_traffic_loses_no_call_and_prometheus_follows(swarm, lab):
    _, url = lab
    counts: dict[str, int] = {}
    for task in swarm.tasks(service(FUNCTION)):
        counts[task["node"]] = counts.get(task["node"], 0) + 1
    worker = max(swarm.workers, key=lambda node: counts.get(node.name, 0))
    assert counts.get(worker.name), counts
    with Traffic(url) as traffic:
        time.sleep(2)
        started = time.monotonic()
        swarm.update_node(worker, availability="drain")
        try:
            swarm.wait_running(service(FUNCTION), REPLICAS, avoid=[worker.name], timeout=90)
            moved = time.monotonic() - started
            expected = task_instances(swarm, FUNCTION)
            wait_for(
                "Prometheus scrapes the new tasks",
                lambda: prometheus_instances(swarm, FUNCTION) == expected,
                60,
                interval=0.5,
            )
            scraped = time.monotonic() - started - moved
            time.sleep(3)
        finally:
            swarm.update_node(worker, availability="active")
    report(
        f"drain {worker.name} under traffic: {traffic.ok} calls, {len(traffic.failures)} failed; "
        f"tasks running elsewhere after {moved:.1f} s, Prometheus up for them {scraped:.1f} s "
        "later (refresh 5 s, scrape 5 s)"
    )
    assert not traffic.failures, traffic.failures[:5]
    assert scraped <= 15


def test_rolling_update_under_traffic_loses_no_call(swarm, lab):
    _, url = lab
    for node in swarm.nodes:
        node.client.images.get(APP_IMAGE).tag(ROLLOUT_IMAGE)
    api = swarm.manager.client.api
    name = service(FUNCTION)
    with Traffic(url) as traffic:
        time.sleep(2)
        started = time.monotonic()
        current = api.inspect_service(name)
        template = current["Spec"]["TaskTemplate"]
        template["ContainerSpec"]["Image"] = ROLLOUT_IMAGE
        api.update_service(
            current["ID"],
            current["Version"]["Index"],
            task_template=template,
            fetch_current_spec=True,
        )

        def done() -> bool:
            state = (api.inspect_service(name).get("UpdateStatus") or {}).get("State")
            assert state not in ("paused", "rollback_started", "rollback_completed"), state
            return state == "completed"

        wait_for("rolling update completed", done, 120, interval=0.5)
        seconds = time.monotonic() - started
        time.sleep(2)
    images = {
        t["Spec"]["ContainerSpec"]["Image"]
        for t in api.tasks(filters={"service": name, "desired-state": "running"})
    }
    report(
        f"rolling update of {name} under traffic: {traffic.ok} calls, "
        f"{len(traffic.failures)} failed; done in {seconds:.1f} s"
    )
    assert images == {ROLLOUT_IMAGE}, images
    assert not traffic.failures, traffic.failures[:5]


def test_a_killed_worker_fails_calls_only_until_the_swarm_notices(swarm, lab):
    _, url = lab
    counts: dict[str, int] = {}
    for task in swarm.tasks(service(FUNCTION)):
        counts[task["node"]] = counts.get(task["node"], 0) + 1
    worker = max(swarm.workers, key=lambda node: counts.get(node.name, 0))
    assert counts.get(worker.name), counts

    def state() -> str:
        return swarm.manager.client.nodes.get(worker.swarm_id).attrs["Status"]["State"]

    with Traffic(url, timeout=5) as traffic:
        time.sleep(2)
        started = time.monotonic()
        swarm.kill_node(worker)
        wait_for(f"{worker.name} down", lambda: state() == "down", 60, interval=0.2)
        noticed = time.monotonic() - started
        swarm.wait_running(service(FUNCTION), REPLICAS, avoid=[worker.name], timeout=90)
        rescheduled = time.monotonic() - started
        calm_from = time.monotonic()
        time.sleep(5)
    back = swarm.restart_node(worker)
    failed_at = [moment - started for moment, _ in traffic.failures]
    after_calm = [moment for moment, _ in traffic.failures if moment > calm_from]
    window = f"{min(failed_at):.1f}-{max(failed_at):.1f} s" if failed_at else "none"
    report(
        f"kill {worker.name} under traffic: {traffic.ok} calls, {len(failed_at)} failed "
        f"(at {window} after the kill); node down after {noticed:.1f} s, tasks running "
        f"elsewhere after {rescheduled:.1f} s; node back in {back:.1f} s"
    )
    assert not after_calm, traffic.failures[-5:]
