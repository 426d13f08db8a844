"""The lab's user-defined bridge network: containers find each other by alias, never by IP."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker


@dataclass
class LabNetworkArgs:
    docker_name: str
    labels: dict[str, str]


class LabNetwork(pulumi.ComponentResource):
    name: pulumi.Output[str]

    def __init__(
        self, name: str, args: LabNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:stack:LabNetwork", name, None, opts)
        network = docker.Network(
            f"{name}-bridge",
            name=args.docker_name,
            driver="bridge",
            labels=[
                docker.NetworkLabelArgs(label=key, value=value)
                for key, value in args.labels.items()
            ],
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.name = network.name
        self.register_outputs({"name": self.name})
