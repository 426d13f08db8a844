"""The Swarm features the lab's Swarm target relies on, proved on the three nodes with the
Python stand-in and a tiny HTTP server (tests/swarm/services.py): a dnsrr service spread over
the nodes and reachable across the overlay through `tasks.<service>`; what a virtual IP and the
routing mesh do without IPVS; a port published in host mode on the manager; configs and
secrets as files with owner and mode; gelf logs from every node; a start-first rolling update.
"""

from __future__ import annotations

import contextlib
import json
import time

import docker
import docker.types
import pytest

from tests.support.swarm_cluster import DEFAULT_PREFIX, wait_for
from tests.swarm.conftest import FRONT_PORT, report
from tests.swarm.services import (
    OVERLAY,
    PYTHON_IMAGE,
    REPLICAS,
    WEB,
    http_get,
    probe,
    server_service,
)

pytestmark = [pytest.mark.live, pytest.mark.slow]


def test_a_dnsrr_service_spreads_and_answers_across_nodes_through_tasks_dns(swarm, web):
    tasks = swarm.tasks(WEB)
    by_address = {task["addresses"][OVERLAY][0]: task for task in tasks}
    assert len({task["node"] for task in tasks}) >= 2, tasks
    # The health check in the service spec runs on every node.
    for task in tasks:
        container = swarm.node(task["node"]).client.containers.get(task["container"])
        assert container.attrs["State"]["Health"]["Status"] == "healthy", task
    for node in swarm.nodes:
        answers = probe(node, f"tasks.{WEB}")
        assert all("answer" in a for a in answers), answers
        assert {a["ip"] for a in answers} == set(by_address), (answers, by_address)
        for a in answers:
            assert a["answer"]["node"] == by_address[a["ip"]]["node"], a
        others = {a["answer"]["node"] for a in answers} - {node.name}
        assert others, f"from {node.name}, no task on another node answered: {answers}"
    report(
        f"tasks.{WEB}: {len(tasks)} tasks on {sorted({t['node'] for t in tasks})}, "
        "each answers from every node over the overlay"
    )


def test_virtual_ips_and_the_routing_mesh_answer_only_with_ipvs(swarm, overlay):
    # Docker balances a service's virtual IP and the ingress mesh with IPVS in the kernel.
    ipvs = swarm.manager.container.exec_run(["test", "-e", "/proc/net/ip_vs"]).exit_code == 0
    name = f"{DEFAULT_PREFIX}-vip"
    server_service(
        swarm,
        name,
        endpoint_spec=docker.types.EndpointSpec(mode="vip", ports={9090: 8080}),
        init=True,
    )
    try:
        swarm.wait_running(name, 1)
        answers = probe(swarm.manager, name, f"tasks.{name}")
        vip = next(a for a in answers if a["name"] == name)
        task = next(a for a in answers if a["name"] == f"tasks.{name}")
        assert "answer" in task, answers  # the task itself answers on its own address
        vip_answers = "answer" in vip
        mesh = {node.name: http_get(f"http://{node.address}:9090/", 2) for node in swarm.nodes}
        mesh_answers = any(isinstance(a, dict) for a in mesh.values())
        report(
            f"IPVS in this kernel: {ipvs}; virtual IP {vip.get('ip')} answers: {vip_answers} "
            f"({vip.get('error', 'ok')}); ingress port 9090 answers: {mesh_answers} "
            f"({next(iter(mesh.values()))})"
        )
        assert vip_answers == ipvs, vip
        assert mesh_answers == ipvs, mesh
    finally:
        swarm.manager.client.services.get(name).remove()


def test_a_port_published_in_host_mode_on_the_manager_answers(swarm, overlay):
    name = f"{DEFAULT_PREFIX}-front"
    server_service(
        swarm,
        name,
        endpoint_spec=docker.types.EndpointSpec(
            mode="dnsrr", ports={FRONT_PORT: (8080, "tcp", "host")}
        ),
        constraints=["node.role == manager"],
        init=True,
    )
    try:
        swarm.wait_running(name, 1)
        direct = wait_for(
            "the host-mode port on the manager",
            lambda: (
                (a := http_get(f"http://{swarm.manager.address}:{FRONT_PORT}/"))
                and isinstance(a, dict)
                and a
            ),
            20,
        )
        host_port = swarm.manager.host_ports[FRONT_PORT]
        via_loopback = http_get(f"http://127.0.0.1:{host_port}/")
        assert direct["node"] == swarm.manager.name, direct
        assert isinstance(via_loopback, dict), via_loopback
        assert via_loopback["node"] == swarm.manager.name
        ports = swarm.manager.client.api.inspect_service(name)["Endpoint"]["Ports"]
        report(
            f"host-mode port {FRONT_PORT} on the manager: answers at its address and at "
            f"127.0.0.1:{host_port} of the host; endpoint {ports}"
        )
    finally:
        swarm.manager.client.services.get(name).remove()


def test_configs_and_secrets_are_files_with_owner_and_mode(swarm, overlay):
    client = swarm.manager.client
    name = f"{DEFAULT_PREFIX}-files"
    config = client.configs.create(name=f"{name}-config-v1", data=b"setting: 1\n")
    secret = client.secrets.create(name=f"{name}-secret-v1", data=b"s3cret\n")
    script = (
        "stat -c '%n %u %g %a' /etc/lab/settings.yml /run/secrets/password; "
        "cat /etc/lab/settings.yml /run/secrets/password; exec sleep infinity"
    )
    client.services.create(
        PYTHON_IMAGE,
        ["sh", "-c", script],
        name=name,
        user="10001:10001",
        init=True,
        configs=[
            docker.types.ConfigReference(
                config.id, config.name, "/etc/lab/settings.yml", "10001", "10001", 0o440
            )
        ],
        secrets=[
            docker.types.SecretReference(
                secret.id, secret.name, "password", "10001", "10001", 0o400
            )
        ],
    )
    try:
        task = swarm.wait_running(name, 1)[0]
        container = swarm.node(task["node"]).client.containers.get(task["container"])
        output = wait_for(
            "the file listing", lambda: "s3cret" in (o := container.logs().decode()) and o, 20
        )
        assert "/etc/lab/settings.yml 10001 10001 440" in output, output
        assert "/run/secrets/password 10001 10001 400" in output, output
        assert "setting: 1" in output
        assert not any("s3cret" in env for env in container.attrs["Config"]["Env"] or [])
        report(f"config and secret as files on {task['node']}: {output.splitlines()[:2]}")
    finally:
        client.services.get(name).remove()


def test_gelf_logs_of_every_node_reach_a_receiver_published_on_the_manager(swarm, overlay):
    """The gelf driver runs in each node's dockerd, outside the overlay: its address must be
    one every node reaches, here the manager's address with the port published in host mode."""
    client = swarm.manager.client
    receiver = f"{DEFAULT_PREFIX}-gelf-receiver"
    emitter = f"{DEFAULT_PREFIX}-gelf-emitter"
    receive = (
        "import json, socket, zlib\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.bind(('', 12201))\n"
        "while True:\n"
        "    data = s.recv(65535)\n"
        # The driver compresses with gzip by default; 47 = a zlib or gzip header.
        "    if data[:2] != b'{\"': data = zlib.decompress(data, 47)\n"
        "    m = json.loads(data)\n"
        "    print(json.dumps({'host': m.get('host'), 'message': m.get('short_message'),"
        " 'tag': m.get('_tag')}), flush=True)\n"
    )
    client.services.create(
        PYTHON_IMAGE,
        ["python3", "-c", receive],
        name=receiver,
        init=True,
        constraints=["node.labels.lab.state == true"],
        endpoint_spec=docker.types.EndpointSpec(
            mode="dnsrr", ports={12201: (12201, "udp", "host")}
        ),
    )
    try:
        task = swarm.wait_running(receiver, 1)[0]
        client.services.create(
            PYTHON_IMAGE,
            ["sh", "-c", 'while true; do echo "line from $NODE"; sleep 0.5; done'],
            name=emitter,
            init=True,
            env=["NODE={{.Node.Hostname}}"],
            mode=docker.types.ServiceMode("global"),
            log_driver="gelf",
            log_driver_options={
                "gelf-address": f"udp://{swarm.manager.address}:12201",
                "tag": "{{.Name}}",
            },
        )
        container = swarm.manager.client.containers.get(task["container"])

        def hosts() -> set[str] | None:
            lines = [json.loads(x) for x in container.logs().decode().splitlines() if x]
            seen = {line["host"] for line in lines}
            return seen if seen >= {node.name for node in swarm.nodes} else None

        started = time.monotonic()
        seen = wait_for("gelf lines from every node", hosts, 30)
        sample = container.logs().decode().splitlines()[0]
        report(
            f"gelf to udp://{swarm.manager.address}:12201 (host mode on the manager): lines "
            f"from {sorted(seen)} within {time.monotonic() - started:.1f} s; e.g. {sample}"
        )
    finally:
        for name in (emitter, receiver):
            with contextlib.suppress(docker.errors.NotFound):
                client.services.get(name).remove()


def test_a_rolling_update_starts_each_new_task_before_stopping_its_old_one(swarm, web):
    before = {task["id"] for task in swarm.tasks(WEB)}
    started = time.monotonic()
    web.update(env=["NODE={{.Node.Hostname}}", "LAB_REVISION=2"], force_update=True)
    most_running = 0

    def completed() -> bool:
        nonlocal most_running
        tasks = swarm.tasks(WEB, desired=None)
        most_running = max(most_running, sum(t["state"] == "running" for t in tasks))
        web.reload()
        return (web.attrs.get("UpdateStatus") or {}).get("State") == "completed"

    wait_for("the rolling update", completed, 90, interval=0.1)
    seconds = time.monotonic() - started
    after = swarm.wait_running(WEB, REPLICAS)
    assert not before & {task["id"] for task in after}, "some old task survived the update"
    assert most_running > REPLICAS, f"at most {most_running} tasks ran at once: stop-first?"
    report(
        f"rolling update (parallelism 1, start-first, health-checked): {seconds:.1f} s, "
        f"up to {most_running} tasks running at once for {REPLICAS} replicas"
    )
