"""node-exporter: the Docker host's CPU, memory, disks and network, read-only, no port."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_docker as docker

from stack.containers import PartArgs, ScrapedPart, healthcheck

PORT = 9100
JOB = "node"  # the dashboards' node-exporter job
# Host path -> where the container sees it; plain read-only binds (no rslave propagation,
# which needs a shared mount on the host that the CI machine does not have).
HOST_MOUNTS = {"/proc": "/host/proc", "/sys": "/host/sys", "/": "/host/root"}
ARGUMENTS = (
    f"--path.procfs={HOST_MOUNTS['/proc']}",
    f"--path.sysfs={HOST_MOUNTS['/sys']}",
    f"--path.rootfs={HOST_MOUNTS['/']}",
)
HEALTH_COMMAND = ("wget", "-qO-", f"http://localhost:{PORT}/metrics")


@dataclass(kw_only=True)
class NodeExporterArgs(PartArgs):
    """node-exporter needs nothing beyond what every part has."""


class NodeExporter(ScrapedPart, port=PORT, job=JOB):
    PART = "node_exporter"

    def container_arguments(self, args: NodeExporterArgs) -> dict:
        return dict(
            command=list(ARGUMENTS),
            volumes=[
                docker.ContainerVolumeArgs(host_path=host, container_path=inside, read_only=True)
                for host, inside in HOST_MOUNTS.items()
            ],
            health=healthcheck(HEALTH_COMMAND),
        )
