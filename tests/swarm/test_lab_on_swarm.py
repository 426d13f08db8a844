"""The lab's Swarm target on the three-node cluster: what `lab:engine: swarm` declares (captured
under mocks) applied to the manager, then traffic through Traefik while a worker is drained, a
function is rolled to a new image and a worker is killed. Prints the numbers.

The monitoring parts run on their stand-ins; Grafana and the Elastic stack cannot run here
(tests/stack/test_swarm_parts.py checks them), so a GELF receiver stands in for Logstash's
input, as the declared Logstash service (name, state node, host-mode port) with another image.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from app.contract import APP_PORT, APP_USER
from stack.configs.traefik_yaml import USERS_FILE
from tests.support.capture import OPEN_ON_SWARM
from tests.support.declared import capture
from tests.support.live_lab import STANDIN_IMAGES
from tests.support.swarm_cluster import wait_for
from tests.support.swarm_harness import IMAGE, SERVICE, SWARM_SERVICE, SwarmHarness
from tests.support.swarm_workers import busiest_worker, node_state
from tests.swarm.conftest import FRONT_PORT, report, test_trace_id_everywhere  # noqa: F401
from tests.swarm.lab_support import (
    Traffic,
    alive,
    answers,
    declared_root_read_only,
    gelf_receiver,
    instances_up,
    load_lab_images,
    prometheus_api,
    received,
    second_plan,
    unhealthy,
)

pytestmark = [pytest.mark.live, pytest.mark.slow]

STACK = "swarmlab"
APP_IMAGE = "lab-standin/app:latest"
ROLLOUT_IMAGE = "lab-standin/app:rollout"
REPLICAS = 2
FUNCTION = "fibonacci"
GELF_PORT = 12201
# Every part on; alerting, probes and node-exporter by default.
CONFIG = {
    "lab:engine": "swarm",
    "lab:replicas": REPLICAS,
    "lab:images": STANDIN_IMAGES,
    "lab:ports": {"api": FRONT_PORT, "gelf": GELF_PORT},
    "lab:allowOpenPorts": OPEN_ON_SWARM,
    # This kernel has no ESP: an encrypted overlay drops the traffic between nodes
    # (tests/swarm/test_encrypted_overlay.py), so the lab runs here with plain overlays.
    "lab:swarmEncryption": False,
}
# What cannot run here: their services are left out (the Logstash one becomes the receiver;
# the Logstash exporter runs, reporting logstash_up 0, healthy on its own /metrics).
NOT_HERE = ("elasticsearch", "kibana", "grafana", "elasticsearch_exporter")
# Writable on one host only for their uploads: healthy here with a read-only root.
READ_ONLY_HERE = ("traefik", "prometheus", "alertmanager", "blackbox", "logstash_exporter")


def service(part: str) -> str:
    return f"lab-{STACK}-{part}"


def task_instances(swarm, part: str) -> set[str]:
    network = f"lab-{STACK}-network-edge"  # the functions' network (stack/network.py)
    return {
        f"{task['addresses'][network][0]}:{APP_PORT}"
        for task in swarm.tasks(service(part))
        if task["state"] == "running"
    }


@pytest.fixture(scope="module")
def lab(swarm):
    started = time.monotonic()
    # The state node (the manager, labelled lab.state) as every node's daemon reaches it.
    resources = capture("lab", STACK, {**CONFIG, "lab:swarmStateHost": swarm.manager.address})
    (app,) = [r.inputs["imageName"] for r in resources if r.type == IMAGE]
    loads = load_lab_images(swarm, APP_IMAGE)
    harness = SwarmHarness(swarm.manager.client, images={app: APP_IMAGE}, run_id=STACK)
    skipped = {service(part) for part in NOT_HERE}
    logstash = service("logstash")
    declared = [r for r in resources if not (r.type == SERVICE and r.inputs["name"] in skipped)]
    # The receiver first: the gelf driver dials it (TCP) when each task's container starts.
    first = [
        replace(r, inputs=gelf_receiver(r.inputs, GELF_PORT)) if r.type == SERVICE else r
        for r in declared
        if not (r.type == SERVICE and r.inputs["name"] != logstash)
    ]
    try:
        harness.apply(first)
        swarm.wait_running(logstash, 1, timeout=60)
        wait_for("GELF receiver healthy", lambda: not unhealthy(swarm, {logstash}), 30)
        harness.apply([r for r in declared if r.type == SERVICE and r.inputs["name"] != logstash])
        for part in ("fibonacci", "factorial", "ackermann"):
            swarm.wait_running(service(part), REPLICAS, timeout=120)
        for part in READ_ONLY_HERE:
            swarm.wait_running(service(part), 1, timeout=60)
        swarm.wait_running(service("node_exporter"), len(swarm.nodes), timeout=60)
        url = f"http://127.0.0.1:{swarm.manager.host_ports[FRONT_PORT]}/{FUNCTION}/10/"
        wait_for("Traefik answers", lambda: answers(url), 60, interval=0.5)
        wait_for("every task healthy", lambda: not unhealthy(swarm, harness.services), 90)
        report(
            f"swarm lab: {len(harness.services)} services, {len(harness.configs)} configs, "
            f"{len(harness.secrets)} secrets up, healthy and answering through Traefik "
            f"{time.monotonic() - started:.1f} s after capture "
            f"(app, blackbox, node-exporter images loaded per node: "
            f"{', '.join(f'{v:.1f} s' for v in loads.values())})"
        )
        yield harness, url
    finally:
        clients = [node.client for node in swarm.nodes if alive(node)]
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


def test_the_second_plan_of_the_applied_swarm_lab_is_empty(swarm, lab):  # runs first
    assert not (changed := second_plan(swarm.manager.client.api, lab[0])), changed


def test_function_tasks_spread_and_prometheus_finds_them(swarm, lab):
    nodes = {task["node"] for task in swarm.tasks(service(FUNCTION))}
    assert len(nodes) >= 2, nodes
    expected = task_instances(swarm, FUNCTION)
    found = wait_for(
        "Prometheus scrapes every task",
        lambda: instances_up(swarm, service("prometheus"), FUNCTION) == expected,
        60,
        interval=1,
    )
    assert found
    report(f"{FUNCTION}: tasks on {sorted(nodes)}; Prometheus up for {sorted(expected)}")


def test_each_node_runs_its_tasks_healthy_and_hardened(swarm, lab):
    """Per node, as testinfra would: every task container healthy with the root its service
    declares, the functions' user and dropped capabilities, Traefik's port on the manager."""
    harness, _ = lab
    seen: dict[str, list[str]] = {}
    read_only: set[str] = set()
    for node in swarm.nodes:
        for container in node.client.containers.list(filters={"label": SWARM_SERVICE}):
            name = container.labels[SWARM_SERVICE]
            if name not in harness.services:
                continue
            attrs = container.attrs
            assert attrs["State"]["Health"]["Status"] == "healthy", (node.name, container.name)
            if declared_root_read_only(swarm, harness, name, container):
                read_only.add(name.removeprefix(f"lab-{STACK}-"))
            if "lab.function" in container.labels:
                assert attrs["Config"]["User"] == APP_USER
                assert attrs["HostConfig"]["ReadonlyRootfs"]
                assert attrs["HostConfig"]["CapDrop"] == ["ALL"]
            if name == service("traefik"):
                assert node.is_manager
                ports = attrs["NetworkSettings"]["Ports"][f"{FRONT_PORT}/tcp"]
                assert {int(p["HostPort"]) for p in ports} == {FRONT_PORT}
                # Its basic-auth users: a Swarm secret at an absolute path, 0400 for nobody.
                code, found = container.exec_run(["stat", "-c", "%a %u", USERS_FILE])
                assert (code, found.decode().split()) == (0, ["400", "65534"]), found
            seen.setdefault(node.name, []).append(name.removeprefix(f"lab-{STACK}-"))
    report("tasks per node: " + "; ".join(f"{n}: {sorted(t)}" for n, t in sorted(seen.items())))
    report(f"read-only roots, healthy: {sorted(read_only)}")
    assert len(seen) == len(swarm.nodes), seen
    assert set(READ_ONLY_HERE) <= read_only, read_only


def test_monitoring_runs_healthy_and_prometheus_scrapes_every_node(swarm, lab):
    """node-exporter: one task per node, each scraped (DNS SD on tasks.<service>) and naming
    its node (the task's hostname is the node's); Prometheus found Alertmanager."""
    tasks = swarm.tasks(service("node_exporter"))
    names = {node.name for node in swarm.nodes}
    assert sorted(t["node"] for t in tasks) == sorted(names), tasks
    started = time.monotonic()
    up = wait_for(
        "Prometheus scrapes node-exporter on every node",
        lambda: len(instances_up(swarm, service("prometheus"), "node")) == len(names),
        60,
        interval=1,
    )
    scraped = time.monotonic() - started
    assert up
    prometheus = service("prometheus")
    data = prometheus_api(swarm, prometheus, "/api/v1/query", query="node_uname_info")
    assert {r["metric"]["nodename"] for r in data["result"]} == names, data
    managers = prometheus_api(swarm, prometheus, "/api/v1/alertmanagers")["activeAlertmanagers"]
    assert managers, "Prometheus has no Alertmanager"
    blackbox = wait_for(
        "the blackbox exporter scraped for the call probes",
        lambda: instances_up(swarm, service("prometheus"), "probe-calls"),
        60,
    )
    report(
        f"monitoring on swarm: node-exporter up on {sorted(names)} ({scraped:.1f} s more), "
        f"Alertmanager {managers[0]['url']}, blackbox exporter up for {len(blackbox)} probes"
    )


def test_logs_from_every_node_reach_the_state_nodes_gelf_input(swarm, lab):
    """Each node's daemon ships its function tasks' lines to the state node's address; the
    GELF `host` field is the node that ran the task."""
    _, url = lab
    for _ in range(40):
        assert answers(url)
    task_node = {t["id"]: t["node"] for t in swarm.tasks(service(FUNCTION))}
    (receiver,) = swarm.manager.client.containers.list(
        filters={"label": f"{SWARM_SERVICE}={service('logstash')}"}
    )

    def hosts_seen() -> dict[str, str]:
        seen = {}
        for message in received(receiver):
            name = message.get("_container_name") or ""
            task = name.rsplit(".", 1)[-1]
            if name.startswith(f"{service(FUNCTION)}.") and task in task_node:
                seen[task] = message["host"]
        return seen

    started = time.monotonic()
    seen = wait_for(
        "lines from every function task", lambda: len(hosts_seen()) == len(task_node), 30
    )
    seen = hosts_seen()
    assert seen, received(receiver)[-5:]
    assert seen == {task: task_node[task] for task in seen}, (seen, task_node)
    assert len(set(seen.values())) >= 2, seen
    report(
        f"logs on swarm: {len(received(receiver))} GELF lines at the state node, {FUNCTION}'s "
        f"from {sorted(set(seen.values()))} with the node as host "
        f"({time.monotonic() - started:.1f} s after the calls)"
    )


def test_drain_under_traffic_loses_no_call_and_prometheus_follows(swarm, lab):
    _, url = lab
    worker, counts = busiest_worker(swarm, service(FUNCTION))
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
                lambda: instances_up(swarm, service("prometheus"), FUNCTION) == expected,
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
    worker, counts = busiest_worker(swarm, service(FUNCTION))
    assert counts.get(worker.name), counts

    with Traffic(url, timeout=5) as traffic:
        time.sleep(2)
        started = time.monotonic()
        swarm.kill_node(worker)
        wait_for(
            f"{worker.name} down", lambda: node_state(swarm, worker) == "down", 60, interval=0.2
        )
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
