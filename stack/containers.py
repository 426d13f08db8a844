"""What every lab container shares: Docker names, labels, hardening, ports, uploads, health checks.

Every container the program declares is built from `container_defaults()`, which is what lets
the tests state the security invariants once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

NO_NEW_PRIVILEGES = "no-new-privileges:true"


@dataclass(frozen=True)
class Placement:
    """Where a component's resources go: project and stack (Docker names, labels), the lab's
    network, the address ports are published on and the host a local client dials there."""

    project: str
    stack: str
    network_name: pulumi.Input[str]
    bind_address: str = "127.0.0.1"
    client_host: str = "127.0.0.1"

    @property
    def prefix(self) -> str:
        return f"{self.project}-{self.stack}"

    def docker_name(self, part: str) -> str:
        """`{project}-{stack}-{part}`: two labs (stacks) on one daemon never collide."""
        return f"{self.prefix}-{part}"

    def label_pairs(self, part: str) -> dict[str, str]:
        return {"lab.project": self.project, "lab.stack": self.stack, "lab.part": part}

    def container_labels(self, part: str) -> list[docker.ContainerLabelArgs]:
        return [
            docker.ContainerLabelArgs(label=key, value=value)
            for key, value in self.label_pairs(part).items()
        ]

    def volume_labels(self, part: str) -> list[docker.VolumeLabelArgs]:
        return [
            docker.VolumeLabelArgs(label=key, value=value)
            for key, value in self.label_pairs(part).items()
        ]

    def network_attachment(self, *aliases: str) -> list[docker.ContainerNetworksAdvancedArgs]:
        return [docker.ContainerNetworksAdvancedArgs(name=self.network_name, aliases=list(aliases))]

    def publish(
        self, internal: int, external: int, protocol: str = "tcp"
    ) -> docker.ContainerPortArgs:
        return docker.ContainerPortArgs(
            internal=internal, external=external, ip=self.bind_address, protocol=protocol
        )

    def url(self, port: int, path: str = "") -> str:
        """A published port as this machine reaches it."""
        return f"http://{self.client_host}:{port}{path}"


def container_defaults(placement: Placement, part: str, *, memory_mb: int) -> dict:
    """Keyword arguments every lab container gets: name, labels, limits, hardening."""
    return {
        "name": placement.docker_name(part),
        "labels": placement.container_labels(part),
        "memory": memory_mb,
        "restart": "unless-stopped",
        "privileged": False,
        "security_opts": [NO_NEW_PRIVILEGES],
        # Keep the last container logs readable with `docker logs` without filling the disk.
        "log_driver": "json-file",
        "log_opts": {"max-size": "10m", "max-file": "3"},
        "must_run": True,
    }


def child_options(
    parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = (), **extra
) -> pulumi.ResourceOptions:
    """Options of a named Docker resource: the fixed Docker name frees up before a replacement
    is created, otherwise Docker refuses the duplicate name."""
    return pulumi.ResourceOptions(
        parent=parent, depends_on=list(depends_on), delete_before_replace=True, **extra
    )


def remote_image(parent: pulumi.Resource, name: str, image: str) -> docker.RemoteImage:
    """A part's image by the reference config gives; kept on `down` so the next `up` is fast."""
    return docker.RemoteImage(
        f"{name}-image", name=image, keep_locally=True, opts=pulumi.ResourceOptions(parent=parent)
    )


def data_volume(
    parent: pulumi.Resource, name: str, placement: Placement, part: str
) -> docker.Volume:
    """A part's named data volume, `{project}-{stack}-{part}-data`, labelled like the part."""
    return docker.Volume(
        f"{name}-data",
        name=placement.docker_name(f"{part}-data"),
        labels=placement.volume_labels(part),
        opts=child_options(parent),
    )


def upload(path: str, content: pulumi.Input[str]) -> docker.ContainerUploadArgs:
    """A config file placed in the container before it starts (works on a remote daemon too)."""
    return docker.ContainerUploadArgs(file=path, content=content, permissions="0644")


def secret_upload(
    path: str, secret: pulumi.Input[str], *, owner: str
) -> docker.ContainerUploadArgs:
    """A password as a file only the part's process user can read: mode 0400, owned by that
    numeric uid (without `owner` Docker copies it as root:root, unreadable by the user). The
    content stays a Pulumi secret in the state."""
    return docker.ContainerUploadArgs(
        file=path,
        content=pulumi.Output.secret(secret),
        permissions="0400",
        owner=owner,
        group=owner,
    )


def healthcheck(
    command: Sequence[str],
    *,
    interval: str = "5s",
    timeout: str = "3s",
    retries: int = 5,
    start_period: str = "10s",
) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", *command],
        interval=interval,
        timeout=timeout,
        retries=retries,
        start_period=start_period,
    )
