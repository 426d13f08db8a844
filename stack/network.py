"""The lab's network: containers find each other by alias, never by IP. A user-defined bridge
on one host; on Swarm (stack/swarm.py) an attachable overlay spanning every node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pulumi
import pulumi_docker as docker

from stack.component import LabComponent


@dataclass
class LabNetworkArgs:
    docker_name: str
    labels: dict[str, str]


class LabNetwork(LabComponent):
    DRIVER: ClassVar[str] = "bridge"
    name: pulumi.Output[str]
    network_id: pulumi.Output[str]

    def declare(self, name: str, args: LabNetworkArgs) -> dict:
        # Plain containers (a probe, `docker run --network`) join an overlay only when it is
        # attachable; services join it either way.
        attachable = {"attachable": True} if self.DRIVER == "overlay" else {}
        network = docker.Network(
            f"{name}-{self.DRIVER}",
            name=args.docker_name,
            driver=self.DRIVER,
            labels=[
                docker.NetworkLabelArgs(label=key, value=value)
                for key, value in args.labels.items()
            ],
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            **attachable,
        )
        self.name = network.name
        self.network_id = network.id
        return {"name": self.name}
