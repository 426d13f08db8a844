"""Docker-in-Docker node containers on the host daemon, and their complete removal.

The host side of tests/support/swarm_cluster.py (which says what was found on these
machines): the private bridge network with fixed node addresses, one node container (the
options that replace --privileged here), and the cleanup that removes every object of a
cluster, including the host cgroup folders its inner dockerd made, which outlive the node
container. Everything here carries the labels `lab.swarm-test=1` and
`lab.swarm-cluster=<prefix>`, and only such objects are ever removed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types

# Built by scripts/build_images.sh (build_swarm_node) from images/swarm-node/.
NODE_IMAGE = "lab-standin/swarm-node:latest"
LABEL = "lab.swarm-test"
CLUSTER_LABEL = "lab.swarm-cluster"
API_PORT = 2375  # each inner dockerd's, bound to its node's private address only
# The API version of Debian bookworm's docker.io (20.10) in the node image; fixed, so a client
# is made before its daemon answers (newer daemons still serve it).
NODE_API_VERSION = "1.41"
CGROUP_ROOT = Path("/sys/fs/cgroup")
# What a node needs here instead of --privileged, which this host refuses (no
# CAP_SYS_RESOURCE). The CLI's systempaths=unconfined is not an API security_opt: it is the
# empty MaskedPaths and ReadonlyPaths set in start_node.
NODE_SECURITY: dict[str, Any] = {
    "cap_add": ["ALL"],
    "cap_drop": ["SYS_RESOURCE"],
    "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
    "device_cgroup_rules": ["a *:* rwm"],
}


class ClusterError(RuntimeError):
    """The cluster did not reach the state asked for within its timeout."""


def wait_for(
    what: str, check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.25
) -> Any:
    """Poll `check` until it returns something truthy; ClusterError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # a daemon that is starting answers with many kinds of errors
            last_error = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise ClusterError(f"{what}: not within {timeout:.0f} s{detail}")
        time.sleep(interval)


@dataclass
class Node:
    """One node: its container on the host daemon and an SDK client to its own dockerd."""

    name: str
    role: str  # "manager" or "worker"
    container: Any  # docker.models.containers.Container on the host daemon
    address: str  # on the cluster's private bridge network
    client: docker.DockerClient
    swarm_id: str = ""  # the swarm's node ID, once joined
    host_ports: dict[int, int] = field(default_factory=dict)  # container port -> 127.0.0.1 port

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"


def require_image(host: docker.DockerClient, image: str) -> None:
    try:
        host.images.get(image)
    except docker.errors.ImageNotFound:
        raise ClusterError(f"{image} is missing (scripts/build_images.sh builds it)") from None


def labels_of(prefix: str) -> dict[str, str]:
    return {LABEL: "1", CLUSTER_LABEL: prefix}


def create_network(host: docker.DockerClient, name: str, prefix: str, size: int) -> list[str]:
    """A bridge network on a subnet Docker picks, declared back to it as the network's own so
    nodes get fixed addresses (a restarted node keeps its swarm address); returns `size` of
    them."""
    probe = host.networks.create(name, driver="bridge", labels=labels_of(prefix))
    subnet = probe.attrs["IPAM"]["Config"][0]["Subnet"]
    probe.remove()
    host.networks.create(
        name,
        driver="bridge",
        labels=labels_of(prefix),
        ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)]),
    )
    first = ipaddress.ip_network(subnet).network_address + 2  # .1 is the host's gateway
    return [str(first + i) for i in range(size)]


def start_node(
    host: docker.DockerClient,
    *,
    name: str,
    role: str,
    prefix: str,
    network: str,
    address: str,
    image: str = NODE_IMAGE,
    ports: Sequence[int] = (),
) -> Node:
    """Create and start one node container; its dockerd answers a moment later."""
    labels = labels_of(prefix)
    volume = host.volumes.create(f"{name}-docker", labels=labels)
    api = host.api
    host_config = api.create_host_config(
        network_mode=network,
        tmpfs={"/run": ""},
        binds={
            str(CGROUP_ROOT): {"bind": str(CGROUP_ROOT), "mode": "rw"},
            volume.name: {"bind": "/var/lib/docker", "mode": "rw"},
        },
        port_bindings={port: ("127.0.0.1", None) for port in ports},
        **NODE_SECURITY,
    )
    host_config["MaskedPaths"] = []  # systempaths=unconfined: nothing of /proc or /sys masked
    host_config["ReadonlyPaths"] = []  # or read-only
    created = api.create_container(
        image,
        name=name,
        hostname=name,
        labels={**labels, "lab.swarm-node": name, "lab.swarm-role": role},
        environment={"LAB_NODE_NAME": name},  # the inner dockerd's --cgroup-parent
        ports=list(ports),
        host_config=host_config,
        networking_config=api.create_networking_config(
            {network: api.create_endpoint_config(ipv4_address=address)}
        ),
    )
    container = host.containers.get(created["Id"])
    container.start()
    container.reload()
    host_ports = {
        int(spec.split("/")[0]): int(bindings[0]["HostPort"])
        for spec, bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).items()
        if bindings
    }
    client = docker.DockerClient(
        base_url=f"tcp://{address}:{API_PORT}", version=NODE_API_VERSION, timeout=120
    )
    return Node(name, role, container, address, client, host_ports=host_ports)


def copy_images(
    host: docker.DockerClient, nodes: Sequence[Node], tags: Sequence[str], *, parallel: bool = True
) -> dict[str, float]:
    """`docker save` the tags once on the host, `docker load` them on every node; returns
    seconds: image_save, image_load (wall time of all loads), image_load:<node>."""
    steps: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="lab-swarm-images-") as tmp:
        archive = Path(tmp) / "images.tar"
        started = time.monotonic()
        with archive.open("wb") as out:
            # One archive for all tags (the API takes several names; the SDK's get_image one),
            # so layers they share are written and read once.
            response = host.api._get(
                host.api._url("/images/get"), params={"names": list(tags)}, stream=True
            )
            host.api._raise_for_status(response)
            for chunk in response.iter_content(chunk_size=1 << 20):
                out.write(chunk)
        steps["image_save"] = time.monotonic() - started

        def load(node: Node) -> None:
            node_started = time.monotonic()
            with archive.open("rb") as data:
                node.client.images.load(data)
            steps[f"image_load:{node.name}"] = time.monotonic() - node_started

        started = time.monotonic()
        if parallel:
            _each(load, nodes)
        else:
            for node in nodes:
                load(node)
        steps["image_load"] = time.monotonic() - started
    return steps


def remove_cluster(host: docker.DockerClient, prefix: str) -> dict[str, float]:
    """Remove every object of the cluster `prefix` on the host daemon, and its cgroup folders.

    Only objects that carry both the harness label and this cluster's label are touched.
    Returns the seconds each step took (containers, volumes, network, cgroups).
    """
    filters = _cluster_filter(prefix)
    steps: dict[str, float] = {}
    started = time.monotonic()
    containers = host.containers.list(all=True, filters=filters)

    def remove(container: Any) -> None:
        # NotFound: already gone; a 409 (removal already in progress) is waited out below.
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True, v=True)

    _each(remove, containers)
    for container in containers:
        wait_for(
            f"removal of {container.name}",
            lambda c=container: not host.containers.list(all=True, filters={"id": c.id}),
            30,
        )
    steps["containers"] = time.monotonic() - started
    started = time.monotonic()

    def remove_volume(volume: Any) -> None:
        # Each holds a node's /var/lib/docker (its images' layers): seconds of unlinking.
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)

    _each(remove_volume, host.volumes.list(filters=filters))
    steps["volumes"] = time.monotonic() - started
    started = time.monotonic()
    for network in host.networks.list(filters=filters):
        with contextlib.suppress(docker.errors.NotFound):
            network.remove()
    steps["network"] = time.monotonic() - started
    started = time.monotonic()
    # By name, so the folders of a node whose container is already gone go too.
    for folder in cgroup_folders(prefix):
        remove_cgroup_folder(folder)
    steps["cgroups"] = time.monotonic() - started
    return steps


def cluster_leftovers(host: docker.DockerClient, prefix: str) -> list[str]:
    """What of the cluster `prefix` is still on the host: containers, volumes, networks,
    cgroup folders (empty when teardown was complete)."""
    filters = _cluster_filter(prefix)
    found = [f"container {c.name}" for c in host.containers.list(all=True, filters=filters)]
    found += [f"volume {v.name}" for v in host.volumes.list(filters=filters)]
    found += [f"network {n.name}" for n in host.networks.list(filters=filters)]
    found += [f"cgroup {p}" for p in cgroup_folders(prefix)]
    return found


def cgroup_folders(prefix: str) -> list[Path]:
    """The host cgroup folders of the nodes `<prefix>-node<N>`: one per hierarchy with cgroup
    v1 (/sys/fs/cgroup/<controller>/<node>), one with v2 (/sys/fs/cgroup/<node>)."""
    if not CGROUP_ROOT.is_dir():
        return []
    found = []
    for root in [CGROUP_ROOT, *(p for p in CGROUP_ROOT.iterdir() if p.is_dir())]:
        with contextlib.suppress(OSError):
            found.extend(
                child
                for child in root.iterdir()
                if child.is_dir() and _is_node_name(child.name, prefix)
            )
    return found


def remove_cgroup_folder(folder: Path, timeout: float = 15.0) -> None:
    """rmdir a cgroup folder bottom-up; a cgroup is busy until its last process has exited."""

    def attempt() -> bool:
        for dirpath, _, _ in os.walk(folder, topdown=False):
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(dirpath)
        return not folder.exists()

    wait_for(f"removal of {folder}", attempt, timeout, interval=0.5)


def _cluster_filter(prefix: str) -> dict[str, list[str]]:
    return {"label": [f"{LABEL}=1", f"{CLUSTER_LABEL}={prefix}"]}


def _is_node_name(name: str, prefix: str) -> bool:
    rest = name.removeprefix(f"{prefix}-node")
    return rest != name and rest.isdigit()


def _each(action: Callable[[Any], None], items: Sequence[Any]) -> None:
    """Run `action` on every item at once (threads); the first error is raised."""
    if items:
        with ThreadPoolExecutor(max_workers=len(items)) as pool:
            list(pool.map(action, items))
