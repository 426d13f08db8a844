"""Networks by need (issue 22), on the running lab: from a function replica's network
namespace no port of a backend-only part answers, by name or by address; from Traefik's, every
backend its routes name still answers, and the routes answer through the api port.

What listens is read from each container's own socket table (/proc/net/tcp: the kernel's, not
the lab's list of ports), so a port the lab forgot to list is tried too. The probes run in a
throw-away container that shares the replica's (or Traefik's) network namespace: what it
reaches is exactly what the replica's process would.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from app.contract import FUNCTIONS, sample_path
from stack.configs import traefik_yaml
from tests.support.live_lab import STANDIN_IMAGES, LiveLab

pytestmark = [pytest.mark.live]

TCP_LISTEN = "0A"  # include/net/tcp_states.h: TCP_LISTEN = 10
# Tries each (host, port) from inside the namespace; prints {"host:port": "open" | why not}.
CONNECT = """
import json, socket, sys
found = {}
for host, port in json.loads(sys.argv[1]):
    try:
        socket.create_connection((host, port), timeout=2).close()
        found[f"{host}:{port}"] = "open"
    except OSError as error:
        found[f"{host}:{port}"] = type(error).__name__
print(json.dumps(found))
"""
# GETs each URL from inside the namespace; prints {url: status | why not}.
FETCH = """
import json, sys, urllib.error, urllib.request
found = {}
for url in json.loads(sys.argv[1]):
    try:
        found[url] = urllib.request.urlopen(url, timeout=5).status
    except urllib.error.HTTPError as error:
        found[url] = error.code
    except OSError as error:
        found[url] = type(error).__name__
print(json.dumps(found))
"""


def listening_ports(container) -> set[int]:
    """TCP ports the container listens on for other hosts (not loopback-only, which leaves out
    Docker's embedded DNS on 127.0.0.11), from its kernel socket tables (proc(5):
    /proc/net/tcp, local_address as hex IP:port, IPv4 in host byte order, st 0A)."""
    result = container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"])
    assert result.exit_code == 0, result.output
    ports = set()
    for line in result.output.decode().splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != TCP_LISTEN or ":" not in fields[1]:
            continue
        address, port = fields[1].rsplit(":", 1)
        ipv4_loopback = len(address) == 8 and address.endswith("7F")  # 127.0.0.0/8
        if ipv4_loopback or address == "00000000000000000000000001000000":  # ::1
            continue
        ports.add(int(port, 16))
    return ports


def run_in(lab: LiveLab, image: str, namespace_of: str, script: str, argument: object) -> dict:
    """Run `script` in a throw-away container in `namespace_of`'s network namespace, labelled
    with the lab's stack so the harness's stale sweep finds it if it is ever left behind."""
    output = lab.client.containers.run(
        image,
        ["python", "-c", script, json.dumps(argument)],
        network_mode=f"container:{namespace_of}",
        remove=True,
        labels={"lab.stack": lab.stack},
    )
    return json.loads(output)


@pytest.fixture(scope="module")
def networks(lab: LiveLab) -> dict[str, set[str]]:
    """Running container name -> the Docker networks it is attached to (read back)."""
    found = {}
    for name in lab.containers:
        container = lab.client.containers.get(name)
        found[name] = set(container.attrs["NetworkSettings"]["Networks"])
    return found


def test_a_replica_reaches_no_port_of_a_backend_part(lab, networks, standin_image):
    image = standin_image(STANDIN_IMAGES["python"])
    replica = lab.replicas(FUNCTIONS[0])[0]
    edge = networks[replica]
    backend_only = [name for name, joined in networks.items() if not joined & edge]
    assert backend_only, f"every container shares a network with {replica}: {networks}"
    targets, owner = [], {}
    for name in backend_only:
        container = lab.client.containers.get(name)
        ports = listening_ports(container)
        assert ports, f"{name} listens on nothing?"
        addresses = [
            n["IPAddress"] for n in container.attrs["NetworkSettings"]["Networks"].values()
        ]
        for port in sorted(ports):
            for host in (part_of(lab, name), *addresses):
                targets.append((host, port))
                owner[f"{host}:{port}"] = name
    # Controls: the same probe reaches what shares the edge with the replica (Traefik and
    # Prometheus), so a refusal above is the network's, not the probe's.
    shared = [
        name
        for name in networks
        if networks[name] & edge and "lab.function" not in lab.labels_of(lab.containers[name])
    ]
    controls = [
        (part_of(lab, name), port)
        for name in shared
        for port in sorted(listening_ports(lab.client.containers.get(name)))
    ]
    assert controls, f"nothing but replicas on {edge}"
    found = run_in(lab, image, replica, CONNECT, targets + controls)
    print(
        f"\nfrom {replica}: {len(targets)} backend (host, port) pairs refused; reached {controls}"
    )
    reached = {t: owner[t] for t, why in found.items() if why == "open" and t in owner}
    assert not reached, f"{replica} reaches backend ports: {reached}"
    for host, port in controls:
        assert found[f"{host}:{port}"] == "open", (host, port, found)


def part_of(lab: LiveLab, name: str) -> str:
    """The container's alias on the lab's networks: its part."""
    return lab.labels_of(lab.containers[name])["lab.part"]


def test_traefik_reaches_every_backend_its_routes_name(lab, standin_image):
    image = standin_image(STANDIN_IMAGES["python"])
    traefik = lab.the_container("traefik")
    uploads = {u["file"]: u["content"] for u in lab.containers[traefik]["uploads"]}
    services = yaml.safe_load(uploads[traefik_yaml.DYNAMIC_FILE])["http"]["services"]
    urls = sorted(
        server["url"]
        for service in services.values()
        for server in service.get("loadBalancer", {}).get("servers", [])
    )
    assert urls, services
    found = run_in(lab, image, traefik, FETCH, urls)
    print(f"\nfrom {traefik}: {found}")
    hosts = {urlsplit(url).hostname for url in urls}
    assert {f"{f}-1" for f in FUNCTIONS} <= hosts, hosts
    # An HTTP answer (any status): the backend is reachable; 5xx would be its own bug.
    failed = {url: status for url, status in found.items() if not isinstance(status, int)}
    assert not failed, failed
    for function in FUNCTIONS:
        response = requests.get(lab.url("api") + sample_path(function), timeout=10)
        assert response.status_code == 200, (function, response.status_code, response.text)
