"""node-exporter: the Docker host's CPU, memory, disks and network, read-only, no port."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi_docker as docker

from stack.containers import PartArgs, PartComponent, healthcheck, static_job

PORT = 9100
JOB = "node"  # the dashboards' node-exporter job
# Host path -> where the container sees it; plain read-only binds (no rslave propagation,
# which needs a shared mount on the host that the CI machine does not have).
HOST_MOUNTS = {"/proc": "/host/proc", "/sys": "/host/sys", "/": "/host/root"}


@dataclass(kw_only=True)
class NodeExporterArgs(PartArgs):
    """node-exporter needs nothing beyond what every part has."""


class NodeExporter(PartComponent):
    PART = "node_exporter"

    def container_arguments(self, args: NodeExporterArgs) -> dict:
        return dict(
            command=[
                f"--path.procfs={HOST_MOUNTS['/proc']}",
                f"--path.sysfs={HOST_MOUNTS['/sys']}",
                f"--path.rootfs={HOST_MOUNTS['/']}",
            ],
            volumes=[
                docker.ContainerVolumeArgs(host_path=host, container_path=inside, read_only=True)
                for host, inside in HOST_MOUNTS.items()
            ],
            health=healthcheck(["wget", "-qO-", f"http://localhost:{PORT}/metrics"]),
        )

    def outputs(self, name: str, args: NodeExporterArgs) -> dict:
        self.address = f"node_exporter:{PORT}"  # host:port Prometheus scrapes
        return {"address": self.address}

    def scrape_job(self) -> dict:
        return static_job(JOB, self.address)
