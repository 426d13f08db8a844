"""A multi-node Docker Swarm made of Docker-in-Docker node containers, for the live Swarm tests.

Found on the build machines (host engine 20.10.24, cgroup v1, no IPVS in the kernel, 2 CPUs);
numbers from tests/swarm/test_cluster.py there:
- `--privileged` is refused ("unable to apply caps: operation not permitted": no
  CAP_SYS_RESOURCE here). A node runs with cap_add ALL + cap_drop SYS_RESOURCE, seccomp and
  apparmor unconfined, no masked or read-only /proc and /sys paths (what the CLI's
  systempaths=unconfined means; the API has no such security_opt), device cgroup rule
  'a *:* rwm', a tmpfs on /run, the host's /sys/fs/cgroup bound read-write, a volume on
  /var/lib/docker and an inner `dockerd --cgroup-parent=/<node>`. Its containers' cgroups are
  /sys/fs/cgroup/*/<node>/... on the host and outlive the node container: `down()` removes them.
- Each inner dockerd listens on tcp://<node address>:2375 on the private bridge network only
  (`--tls=false` spares dockerd's 15 s delay for a TCP listener without TLS). Nodes have fixed
  addresses, so a killed node restarts into the swarm with its old one.
- Cluster up (network, 3 nodes, daemons, init, 2 joins, labels, all Ready): about 4 s. Loading
  the Python stand-in: save 4 s, load 4-6 s per node one after another, 13.5 s for the three
  in parallel; the app image after it (shared base layers) 3.5-4.5 s per node. Teardown about
  9 s, mostly deleting the nodes' /var/lib/docker volumes.
- Overlay networks (VXLAN inside the nodes) carry traffic between nodes; `tasks.<service>`
  answers with every task's overlay address, from a task or an attachable container anywhere.
- No IPVS, so a `vip` service's virtual IP resolves but does not answer and an ingress port is
  refused on every node. `dnsrr` works, with ports published in `host` mode only (the API
  refuses ingress publishing for dnsrr).
- A health-checked service of 3 replicas runs in about 6 s; a start-first rolling update of it
  takes about 11 s; a drained worker's tasks run elsewhere after about 6 s; a killed worker is
  marked down after 13-16 s with the default 5 s dispatcher heartbeat, 2 s with a 1 s heartbeat
  (swarm_options={"dispatcher_heartbeat_period": 10**9}); a restarted node is Ready in 2-3 s.
- A task whose PID 1 ignores SIGTERM (python, sleep) takes 10 s to stop: use init=True.
- A task's image referenced by tag makes the node try a pull first; here it fails at once (no
  DNS name for the registry) and the loaded image runs.
See tests/swarm/test_cluster.py for the service options proved here.

Usage:

    with SwarmCluster(docker.from_env()) as cluster:   # 3 nodes: 1 manager, 2 workers
        cluster.load_images(["lab-standin/python:3.11"])
        cluster.manager.client.services.create(...)
        print(cluster.timings)

`down()` (also on failure: the context manager, atexit, and SIGTERM turned into
KeyboardInterrupt while the context is open) removes the node containers, their volumes, the
network and the nodes' cgroup folders; `leftovers()` says what is still there.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

# Built by scripts/build_images.sh (build_swarm_node) from images/swarm-node/.
NODE_IMAGE = "lab-standin/swarm-node:latest"
# Every object the harness creates on the host daemon carries this label (and the cluster's).
LABEL = "lab.swarm-test"
CLUSTER_LABEL = "lab.swarm-cluster"
# One prefix per cluster; two checkouts on one daemon set LAB_SWARM_PREFIX apart.
DEFAULT_PREFIX = os.environ.get("LAB_SWARM_PREFIX", "lab-swarm")
API_PORT = 2375
# The API version of Debian bookworm's docker.io (20.10) in the node image; fixed, so a client
# is made before its daemon answers (newer daemons still serve it).
NODE_API_VERSION = "1.41"
SWARM_PORT = 2377
CGROUP_ROOT = Path("/sys/fs/cgroup")
# The capabilities and options a node needs here instead of --privileged (module docstring);
# systempaths=unconfined is set apart, see SwarmCluster._start_node.
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


class SwarmCluster:
    """N Docker-in-Docker nodes on a private bridge network, joined into one swarm.

    nodes: how many nodes; managers: how many of them are managers (the first ones).
    node_labels: swarm node labels per node index (default: `lab.state=true` on node 0, the
    first manager, where the stateful parts are pinned). manager_ports: ports of the first
    manager published on 127.0.0.1 of the host (ephemeral; see `Node.host_ports`), for a
    service that publishes the same port in host mode there (Traefik).
    swarm_options: extra keyword arguments of `Swarm.init` (e.g. dispatcher_heartbeat_period).
    """

    def __init__(
        self,
        host: docker.DockerClient,
        *,
        nodes: int = 3,
        managers: int = 1,
        prefix: str = DEFAULT_PREFIX,
        image: str = NODE_IMAGE,
        node_labels: Mapping[int, Mapping[str, str]] | None = None,
        manager_ports: Sequence[int] = (),
        swarm_options: Mapping[str, Any] | None = None,
        timeout: float = 90.0,
    ) -> None:
        if not 1 <= managers <= nodes:
            raise ValueError(f"managers must be between 1 and nodes ({nodes}), not {managers}")
        self.host = host
        self.size = nodes
        self.managers_wanted = managers
        self.prefix = prefix
        self.image = image
        self.node_labels = (
            dict(node_labels) if node_labels is not None else {0: {"lab.state": "true"}}
        )
        self.manager_ports = tuple(manager_ports)
        self.swarm_options = dict(swarm_options or {})
        self.timeout = timeout
        self.network_name = f"{prefix}-net"
        self.nodes: list[Node] = []
        # Seconds per step: network, nodes_started, daemons_ready, swarm_init, swarm_join,
        # node_labels, nodes_ready, up; image_save, image_load (wall), image_load:<node>;
        # down and down:<step> (containers, volumes, network, cgroups).
        self.timings: dict[str, float] = {}
        self.images_loaded: list[str] = []
        self._addresses: list[str] = []
        self._down_lock = threading.Lock()
        self._previous_sigterm: Any = None

    # ---- names -----------------------------------------------------------------------------

    def node_name(self, index: int) -> str:
        return f"{self.prefix}-node{index + 1}"

    def volume_name(self, node_name: str) -> str:
        return f"{node_name}-docker"

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL: "1", CLUSTER_LABEL: self.prefix}

    # ---- bringing it up --------------------------------------------------------------------

    def __enter__(self) -> SwarmCluster:
        self._previous_sigterm = signal.getsignal(signal.SIGTERM)
        if self._previous_sigterm is signal.SIG_DFL:
            # A CI timeout's SIGTERM becomes an exception, so __exit__ still tears down.
            signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            return self.up()
        except BaseException:
            self._restore_sigterm()
            raise

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.down()
        finally:
            self._restore_sigterm()

    def _restore_sigterm(self) -> None:
        if self._previous_sigterm is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self._previous_sigterm = None

    def up(self) -> SwarmCluster:
        """Create the network and nodes, init the swarm, join the others, label, wait Ready.

        Leftovers of an earlier run with the same prefix are removed first. On any failure
        the partial cluster is torn down before the exception goes on.
        """
        atexit.register(self.down)
        started = time.monotonic()
        try:
            self._check_image()
            remove_cluster(self.host, self.prefix)
            with self._timed("network"):
                self._create_network()
            with self._timed("nodes_started"):
                for index in range(self.size):
                    self.nodes.append(self._start_node(index))
            with self._timed("daemons_ready"):
                for node in self.nodes:
                    wait_for(f"dockerd of {node.name}", node.client.ping, self.timeout)
            with self._timed("swarm_init"):
                self._init_swarm()
            with self._timed("swarm_join"):
                self._join_others()
            with self._timed("node_labels"):
                for index, labels in self.node_labels.items():
                    self.update_node(self.nodes[index], labels=labels)
            with self._timed("nodes_ready"):
                wait_for("every node Ready", self._all_ready, self.timeout)
        except BaseException:
            self.down()
            raise
        self.timings["up"] = time.monotonic() - started
        return self

    def _check_image(self) -> None:
        try:
            self.host.images.get(self.image)
        except docker.errors.ImageNotFound:
            raise ClusterError(
                f"node image {self.image} is missing (bash scripts/build_images.sh builds it)"
            ) from None

    def _create_network(self) -> None:
        """A bridge network with a subnet Docker picks, declared back to it as the network's
        own, so each node gets a fixed address (a restarted node keeps its swarm address)."""
        probe = self.host.networks.create(self.network_name, driver="bridge", labels=self.labels)
        subnet = probe.attrs["IPAM"]["Config"][0]["Subnet"]
        probe.remove()
        network = ipaddress.ip_network(subnet)
        self._addresses = [str(network.network_address + 2 + i) for i in range(self.size)]
        self.host.networks.create(
            self.network_name,
            driver="bridge",
            labels=self.labels,
            ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)]),
        )

    def _start_node(self, index: int) -> Node:
        name = self.node_name(index)
        role = "manager" if index < self.managers_wanted else "worker"
        volume = self.host.volumes.create(self.volume_name(name), labels=self.labels)
        ports = list(self.manager_ports) if index == 0 else []
        address = self._addresses[index]
        api = self.host.api
        host_config = api.create_host_config(
            network_mode=self.network_name,
            tmpfs={"/run": ""},
            binds={
                str(CGROUP_ROOT): {"bind": str(CGROUP_ROOT), "mode": "rw"},
                volume.name: {"bind": "/var/lib/docker", "mode": "rw"},
            },
            port_bindings={port: ("127.0.0.1", None) for port in ports},
            **NODE_SECURITY,
        )
        # The CLI's --security-opt systempaths=unconfined is these two empty lists (nothing of
        # /proc or /sys masked or read-only); the API and the SDK know no such security_opt.
        host_config["MaskedPaths"] = []
        host_config["ReadonlyPaths"] = []
        created = api.create_container(
            self.image,
            name=name,
            hostname=name,
            labels={**self.labels, "lab.swarm-node": name, "lab.swarm-role": role},
            environment={"LAB_NODE_NAME": name},
            ports=list(ports),
            host_config=host_config,
            networking_config=api.create_networking_config(
                {self.network_name: api.create_endpoint_config(ipv4_address=address)}
            ),
        )
        container = self.host.containers.get(created["Id"])
        container.start()
        container.reload()
        host_ports = {}
        for spec, bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).items():
            if bindings:
                host_ports[int(spec.split("/")[0])] = int(bindings[0]["HostPort"])
        client = docker.DockerClient(
            base_url=f"tcp://{address}:{API_PORT}", version=NODE_API_VERSION, timeout=120
        )
        return Node(name, role, container, address, client, host_ports=host_ports)

    def _init_swarm(self) -> None:
        first = self.nodes[0]
        first.client.swarm.init(
            advertise_addr=first.address,
            listen_addr=f"{first.address}:{SWARM_PORT}",
            **self.swarm_options,
        )
        first.client.swarm.reload()
        first.swarm_id = first.client.info()["Swarm"]["NodeID"]

    def _join_others(self) -> None:
        first = self.nodes[0]
        tokens = first.client.swarm.attrs["JoinTokens"]
        for node in self.nodes[1:]:
            node.client.swarm.join(
                remote_addrs=[f"{first.address}:{SWARM_PORT}"],
                join_token=tokens["Manager" if node.is_manager else "Worker"],
                listen_addr=f"{node.address}:{SWARM_PORT}",
                advertise_addr=node.address,
            )
            node.swarm_id = node.client.info()["Swarm"]["NodeID"]

    def _all_ready(self) -> bool:
        states = {n.attrs["Description"]["Hostname"]: n.attrs for n in self.swarm_nodes()}
        return all(
            states.get(node.name, {}).get("Status", {}).get("State") == "ready"
            for node in self.nodes
        )

    # ---- images ----------------------------------------------------------------------------

    def load_images(self, tags: Iterable[str], *, parallel: bool = True) -> dict[str, float]:
        """Put host images on every node: `docker save` once, `docker load` per node.

        Returns the seconds each node's load took (also in timings as image_load:<node>;
        image_save and image_load, the wall time of all loads, beside them).
        """
        tags = [tag for tag in tags if tag not in self.images_loaded]
        if not tags:
            return {}
        per_node: dict[str, float] = {}
        with tempfile.TemporaryDirectory(prefix=f"{self.prefix}-images-") as tmp:
            archive = Path(tmp) / "images.tar"
            with self._timed("image_save"), archive.open("wb") as out:
                # One archive for all tags, so layers they share are written and read once.
                response = self.host.api._get(
                    self.host.api._url("/images/get"), params={"names": tags}, stream=True
                )
                self.host.api._raise_for_status(response)
                for chunk in response.iter_content(chunk_size=1 << 20):
                    out.write(chunk)

            def load(node: Node) -> None:
                started = time.monotonic()
                with archive.open("rb") as data:
                    node.client.images.load(data)
                per_node[node.name] = time.monotonic() - started

            with self._timed("image_load"):
                if parallel:
                    with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
                        list(pool.map(load, self.nodes))
                else:
                    for node in self.nodes:
                        load(node)
        for name, seconds in per_node.items():
            self.timings[f"image_load:{name}"] = seconds
        self.images_loaded.extend(tags)
        return per_node

    # ---- the swarm as seen from a manager ---------------------------------------------------

    @property
    def manager(self) -> Node:
        return self.nodes[0]

    @property
    def workers(self) -> list[Node]:
        return [node for node in self.nodes if not node.is_manager]

    def node(self, name_or_id: str) -> Node:
        for node in self.nodes:
            if name_or_id in (node.name, node.swarm_id):
                return node
        raise KeyError(name_or_id)

    def swarm_nodes(self) -> list[Any]:
        """The swarm's node objects, from the first manager."""
        return self.manager.client.nodes.list()

    def update_node(
        self,
        node: Node,
        *,
        labels: Mapping[str, str] | None = None,
        availability: str | None = None,
    ) -> None:
        """Set swarm node labels (merged) and/or availability (active, pause, drain)."""
        swarm_node = self.manager.client.nodes.get(node.swarm_id)
        spec = dict(swarm_node.attrs["Spec"])
        if labels is not None:
            spec["Labels"] = {**spec.get("Labels", {}), **labels}
        if availability is not None:
            spec["Availability"] = availability
        swarm_node.update(spec)

    def tasks(self, service: str, *, desired: str | None = "running") -> list[dict[str, Any]]:
        """The service's tasks: node name, state, and overlay addresses per network name."""
        filters = {"service": service}
        if desired:
            filters["desired-state"] = desired
        names = {node.swarm_id: node.name for node in self.nodes}
        networks = {n.id: n.name for n in self.manager.client.networks.list()}
        result = []
        for task in self.manager.client.api.tasks(filters=filters):
            addresses = {}
            for attachment in task.get("NetworksAttachments") or []:
                network = attachment["Network"]
                name = network.get("Spec", {}).get("Name") or networks.get(network["ID"], "")
                addresses[name] = [a.split("/")[0] for a in attachment.get("Addresses", [])]
            status = task.get("Status", {})
            result.append(
                {
                    "id": task["ID"],
                    "slot": task.get("Slot"),
                    "node": names.get(task.get("NodeID"), task.get("NodeID")),
                    "state": status.get("State"),
                    "desired": task.get("DesiredState"),
                    "container": status.get("ContainerStatus", {}).get("ContainerID"),
                    "error": status.get("Err"),
                    "addresses": addresses,
                    "timestamp": status.get("Timestamp"),
                }
            )
        return result

    def wait_running(
        self,
        service: str,
        replicas: int,
        *,
        timeout: float = 60.0,
        avoid: Iterable[str] = (),
    ) -> list[dict[str, Any]]:
        """Wait until `replicas` tasks of the service run, none on the nodes named in `avoid`."""
        avoid = set(avoid)

        def check() -> list[dict[str, Any]] | None:
            tasks = self.tasks(service)
            running = [t for t in tasks if t["state"] == "running"]
            if len(running) == replicas == len(tasks) and not {t["node"] for t in running} & avoid:
                return running
            return None

        return wait_for(f"{replicas} running tasks of {service}", check, timeout)

    def kill_node(self, node: Node) -> None:
        """Stop a node container hard (SIGKILL), as a lost machine; down() still removes it."""
        node.container.kill()

    def restart_node(self, node: Node, timeout: float | None = None) -> float:
        """Start a stopped node container again (same address, same /var/lib/docker) and wait
        until the swarm sees it Ready; returns the seconds that took."""
        started = time.monotonic()
        node.container.start()
        timeout = timeout or self.timeout
        wait_for(f"dockerd of {node.name}", node.client.ping, timeout)
        wait_for(f"{node.name} Ready", self._all_ready, timeout)
        return time.monotonic() - started

    # ---- tearing it down -------------------------------------------------------------------

    def down(self) -> None:
        """Remove the node containers, their volumes, the network and the cgroup folders."""
        with self._down_lock:
            started = time.monotonic()
            for node in self.nodes:
                with contextlib.suppress(Exception):
                    node.client.close()
            steps = remove_cluster(self.host, self.prefix)
            self.timings.update({f"down:{step}": seconds for step, seconds in steps.items()})
            self.nodes = []
            self.images_loaded = []
            self.timings["down"] = time.monotonic() - started
            atexit.unregister(self.down)

    def leftovers(self) -> list[str]:
        return cluster_leftovers(self.host, self.prefix)

    # ---- helpers ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _timed(self, step: str):
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[step] = time.monotonic() - started


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _cluster_filter(prefix: str) -> dict[str, list[str]]:
    return {"label": [f"{LABEL}=1", f"{CLUSTER_LABEL}={prefix}"]}


def remove_cgroup_folder(folder: Path, timeout: float = 15.0) -> None:
    """rmdir a cgroup folder bottom-up; a cgroup is busy until its last process has exited."""

    def attempt() -> bool:
        for dirpath, _, _ in os.walk(folder, topdown=False):
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(dirpath)
        return not folder.exists()

    wait_for(f"removal of {folder}", attempt, timeout, interval=0.5)


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
    for folder in _prefixed_cgroup_folders(prefix):
        remove_cgroup_folder(folder)
    steps["cgroups"] = time.monotonic() - started
    return steps


def _each(action: Callable[[Any], None], items: Sequence[Any]) -> None:
    """Run `action` on every item at once (threads); the first error is raised."""
    if items:
        with ThreadPoolExecutor(max_workers=len(items)) as pool:
            list(pool.map(action, items))


def _prefixed_cgroup_folders(prefix: str) -> list[Path]:
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


def _is_node_name(name: str, prefix: str) -> bool:
    rest = name.removeprefix(f"{prefix}-node")
    return rest != name and rest.isdigit()


def cluster_leftovers(host: docker.DockerClient, prefix: str) -> list[str]:
    """What of the cluster `prefix` is still on the host: containers, volumes, networks,
    cgroup folders (empty when teardown was complete)."""
    filters = _cluster_filter(prefix)
    found = [f"container {c.name}" for c in host.containers.list(all=True, filters=filters)]
    found += [f"volume {v.name}" for v in host.volumes.list(filters=filters)]
    found += [f"network {n.name}" for n in host.networks.list(filters=filters)]
    found += [f"cgroup {p}" for p in _prefixed_cgroup_folders(prefix)]
    return found
