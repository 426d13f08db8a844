"""The lab's two networks, joined by need (issue 22): containers find each other by alias, never
by IP. The edge network carries the request path (Traefik, the function replicas and any other
service a user adds); the backend network carries the stores, the UIs and the monitoring. Only
the parts that must talk on both join both, so a replica (or a user's service) reaches no
store, no control API and no exporter. A user-defined bridge each on one host; on Swarm
(stack/swarm.py) attachable overlays spanning every node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_docker as docker

from stack.component import LabComponent

EDGE, BACKEND = "edge", "backend"
# The parts on both networks, and why. Traefik routes the API to the replicas (edge) and
# /grafana, /kibana, /prometheus, /alertmanager to the UIs (backend); Prometheus scrapes each
# replica's /metrics (edge) and Traefik, the exporters and Alertmanager (backend). Nothing else:
# the blackbox probes go through Traefik's backend address, and the replicas' logs reach
# Logstash through the host's Docker daemon (the gelf log driver), not through a network.
ON_BOTH = frozenset({"traefik", "prometheus"})
EDGE_ONLY = (EDGE,)


def networks_of(part: str) -> tuple[str, ...]:
    """The networks a part joins: both for ON_BOTH, else the backend (a function replica and a
    user's service join the edge only, through Placement.edge_attachment and its Swarm twin)."""
    return (EDGE, BACKEND) if part in ON_BOTH else (BACKEND,)


def service_networks(placement, *aliases: str, joins: Sequence[str] = (BACKEND,)) -> list:
    """A Swarm service's overlays: those `joins` lists of the Placement's, each with these
    aliases (stack/containers.Placement.network_attachment for a container)."""
    return [
        docker.ServiceTaskSpecNetworksAdvancedArgs(name=network, aliases=list(aliases))
        for network in placement.network_names(joins)
    ]


def edge_networks(placement, *aliases: str) -> list:
    """The edge overlay only: how a function's service, and a user's own, joins the lab on
    Swarm (Placement.edge_attachment on one host)."""
    return service_networks(placement, *aliases, joins=EDGE_ONLY)


@dataclass
class LabNetworkArgs:
    docker_name: str  # the backend network's Docker name; the edge one is `{docker_name}-edge`
    labels: dict[str, str]
    encrypted: bool = False  # IPsec between nodes (overlays only: lab:swarmEncryption)


def edge_docker_name(docker_name: str) -> str:
    return f"{docker_name}-edge"


class LabNetwork(LabComponent):
    DRIVER: ClassVar[str] = "bridge"
    name: pulumi.Output[str]  # the backend network
    edge_name: pulumi.Output[str]

    def declare(self, name: str, args: LabNetworkArgs) -> dict:
        self.args = args
        # The backend keeps the resource and Docker names the single network had, so an
        # existing lab's plan adds the edge network instead of replacing every container's.
        backend = self.network(f"{name}-{self.DRIVER}", args.docker_name, args.labels)
        edge = self.network(
            f"{name}-edge-{self.DRIVER}",
            edge_docker_name(args.docker_name),
            {**args.labels, "lab.network": EDGE},
        )
        self.name, self.edge_name = backend.name, edge.name
        return {"name": self.name, "edge_name": self.edge_name}

    def network(self, resource: str, docker_name: str, labels: dict[str, str]) -> docker.Network:
        return docker.Network(
            resource,
            name=docker_name,
            driver=self.DRIVER,
            labels=[
                docker.NetworkLabelArgs(label=key, value=value) for key, value in labels.items()
            ],
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            **self.driver_arguments(self.args),
        )

    def driver_arguments(self, args: LabNetworkArgs) -> dict:
        return {}
