"""node-exporter: the Docker host's CPU, memory, disks and network, read-only, no port."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from stack.containers import Placement, child_options, container_defaults, healthcheck, remote_image
from stack.settings import MEMORY_MB

PORT = 9100
# Host path -> where the container sees it; plain read-only binds (no rslave propagation,
# which needs a shared mount on the host that the CI machine does not have).
HOST_MOUNTS = {"/proc": "/host/proc", "/sys": "/host/sys", "/": "/host/root"}


@dataclass
class NodeExporterArgs:
    placement: Placement
    image: str
    memory_mb: int = MEMORY_MB["node_exporter"]
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class NodeExporter(pulumi.ComponentResource):
    container: docker.Container
    address: str  # host:port Prometheus scrapes

    def __init__(
        self, name: str, args: NodeExporterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:stack:NodeExporter", name, None, opts)
        image = remote_image(self, name, args.image)
        self.container = docker.Container(
            f"{name}-container",
            image=image.image_id,
            command=[
                f"--path.procfs={HOST_MOUNTS['/proc']}",
                f"--path.sysfs={HOST_MOUNTS['/sys']}",
                f"--path.rootfs={HOST_MOUNTS['/']}",
            ],
            user="65534:65534",
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            volumes=[
                docker.ContainerVolumeArgs(host_path=host, container_path=inside, read_only=True)
                for host, inside in HOST_MOUNTS.items()
            ],
            healthcheck=healthcheck(["wget", "-qO-", f"http://localhost:{PORT}/metrics"]),
            networks_advanced=args.placement.network_attachment("node_exporter"),
            opts=child_options(self, args.depends_on),
            **container_defaults(args.placement, "node_exporter", memory_mb=args.memory_mb),
        )
        self.address = f"node_exporter:{PORT}"
        self.register_outputs({"address": self.address})
