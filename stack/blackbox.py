"""The blackbox exporter: probes the API through Traefik and each part's health endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from stack.configs import blackbox_yaml
from stack.containers import (
    Placement,
    child_options,
    container_defaults,
    healthcheck,
    remote_image,
    upload,
)
from stack.settings import MEMORY_MB


@dataclass
class BlackboxArgs:
    placement: Placement
    image: str
    config: str  # blackbox_yaml.render(...)
    memory_mb: int = MEMORY_MB["blackbox"]
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Blackbox(pulumi.ComponentResource):
    container: docker.Container
    # host:port Prometheus scrapes the probes through (blackbox_yaml.scrape_jobs(exporter=)).
    address: str

    def __init__(
        self, name: str, args: BlackboxArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:stack:Blackbox", name, None, opts)
        image = remote_image(self, name, args.image)
        self.container = docker.Container(
            f"{name}-container",
            image=image.image_id,
            command=[f"--config.file={blackbox_yaml.CONFIG_FILE}"],
            # Upstream's image runs as root; nothing here needs it (HTTP probes only).
            user="65534:65534",
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            uploads=[upload(blackbox_yaml.CONFIG_FILE, args.config)],
            # No published port: only Prometheus, on the lab network, asks it to probe.
            healthcheck=healthcheck(
                ["wget", "-qO-", f"http://localhost:{blackbox_yaml.PORT}/-/healthy"]
            ),
            networks_advanced=args.placement.network_attachment("blackbox"),
            opts=child_options(self, args.depends_on),
            **container_defaults(args.placement, "blackbox", memory_mb=args.memory_mb),
        )
        self.address = f"blackbox:{blackbox_yaml.PORT}"
        self.register_outputs({"address": self.address})
