"""A multi-node Docker Swarm of Docker-in-Docker nodes (tests/support/swarm_nodes.py).

Found here (engine 20.10.24, cgroup v1, no IPVS, 2 CPUs; numbers from tests/swarm):
- --privileged is refused (no CAP_SYS_RESOURCE); the options of swarm_nodes.NODE_SECURITY,
  no masked /proc and /sys paths, a tmpfs /run, the host's /sys/fs/cgroup read-write and an
  inner `dockerd --cgroup-parent=/<node>` run containers, whose cgroup folders outlive the node
  container (down() removes them). Each dockerd listens on <node address>:2375 of the private
  bridge only (--tls=false spares its 15 s delay); node addresses are fixed, so a killed node
  restarts into the swarm.
- Up (3 nodes, init, joins, labels, Ready): ~4 s. Python stand-in: save ~4 s, load 4-6 s per
  node (10-14 s for the three in parallel); the app image after it 3.5-4.5 s per node. Down: ~8 s,
  mostly deleting the nodes' /var/lib/docker volumes.
- Overlay traffic crosses nodes; `tasks.<service>` gives every task's address. Without IPVS a
  `vip` service's virtual IP resolves but does not answer and ingress ports are refused:
  use `dnsrr`, whose ports can only be published in host mode.
- Health-checked 3 replicas run in 4-6 s; a start-first rolling update takes ~11 s; a drained
  worker's tasks run elsewhere after ~6 s; a killed worker is down after 10-16 s with the
  default 5 s heartbeat, 2 s with swarm_options={"dispatcher_heartbeat_period": 10**9}.
- PID 1 ignoring SIGTERM (python, sleep) costs 10 s per task stop: init=True. A tag image
  makes the node try a pull first; it fails at once here and the loaded image runs.

    with SwarmCluster(docker.from_env()) as cluster:   # node1 manager, node2-3 workers
        cluster.load_images(["lab-standin/python:3.11"])
        cluster.manager.client.services.create(...)
        print(cluster.timings)

down() runs on failure too (context manager, atexit, SIGTERM as KeyboardInterrupt inside the
context); leftovers() says what of the cluster is still on the host.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import docker

from tests.support.swarm_nodes import (
    NODE_IMAGE,
    ClusterError,
    Node,
    cluster_leftovers,
    copy_images,
    create_network,
    remove_cluster,
    require_image,
    start_node,
    wait_for,
)

__all__ = ["NODE_IMAGE", "ClusterError", "Node", "SwarmCluster", "cluster_leftovers", "wait_for"]

# One prefix per cluster; two checkouts on one daemon set LAB_SWARM_PREFIX apart.
DEFAULT_PREFIX = os.environ.get("LAB_SWARM_PREFIX", "lab-swarm")
SWARM_PORT = 2377


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
        self._down_lock = threading.Lock()
        self._previous_sigterm: Any = None

    def node_name(self, index: int) -> str:
        return f"{self.prefix}-node{index + 1}"

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
            require_image(self.host, self.image)
            remove_cluster(self.host, self.prefix)
            with self._timed("network"):
                addresses = create_network(self.host, self.network_name, self.prefix, self.size)
            with self._timed("nodes_started"):
                for index, address in enumerate(addresses):
                    self.nodes.append(
                        start_node(
                            self.host,
                            name=self.node_name(index),
                            role="manager" if index < self.managers_wanted else "worker",
                            prefix=self.prefix,
                            network=self.network_name,
                            address=address,
                            image=self.image,
                            ports=self.manager_ports if index == 0 else (),
                        )
                    )
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

    def load_images(self, tags: Iterable[str], *, parallel: bool = True) -> dict[str, float]:
        """Put host images on every node: `docker save` once, `docker load` per node.

        Returns the seconds each node's load took (also in timings as image_load:<node>;
        image_save and image_load, the wall time of all loads, beside them).
        """
        tags = [tag for tag in tags if tag not in self.images_loaded]
        if not tags:
            return {}
        steps = copy_images(self.host, self.nodes, tags, parallel=parallel)
        self.timings.update(steps)
        self.images_loaded.extend(tags)
        return {k.split(":", 1)[1]: v for k, v in steps.items() if k.startswith("image_load:")}

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
                    "node": names.get(task.get("NodeID"), task.get("NodeID")),
                    "state": status.get("State"),
                    "desired": task.get("DesiredState"),
                    "container": status.get("ContainerStatus", {}).get("ContainerID"),
                    "error": status.get("Err"),
                    "addresses": addresses,
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

    @contextlib.contextmanager
    def _timed(self, step: str):
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[step] = time.monotonic() - started


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")
