"""Which worker of the test swarm a worker-loss test takes down, and how the manager sees it."""

from __future__ import annotations

from collections import Counter

from tests.support.swarm_cluster import SwarmCluster
from tests.support.swarm_nodes import Node


def busiest_worker(swarm: SwarmCluster, service: str) -> tuple[Node, dict[str, int]]:
    """The worker running most of the service's tasks (losing it moves the most), and how many
    of them each node runs."""
    counts = dict(Counter(task["node"] for task in swarm.tasks(service)))
    return max(swarm.workers, key=lambda node: counts.get(node.name, 0)), counts


def node_state(swarm: SwarmCluster, node: Node) -> str:
    """The node's status as the manager last saw it (`ready`, `down`)."""
    return swarm.manager.client.nodes.get(node.swarm_id).attrs["Status"]["State"]
