"""Alertmanager: receives Prometheus' alerts, groups and inhibits them, sends them on."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from stack.configs import alertmanager_yaml
from stack.containers import (
    Placement,
    child_options,
    container_defaults,
    data_volume,
    healthcheck,
    remote_image,
    upload,
)
from stack.settings import MEMORY_MB, PORTS
from stack.settings_tables import ALERTMANAGER_SUB_PATH as SUB_PATH

DATA_DIR = "/alertmanager"


@dataclass
class AlertmanagerArgs:
    placement: Placement
    image: str
    config: str  # alertmanager_yaml.render(...)
    public_url: str | None = None  # the UI as browsers reach it, e.g. through Traefik
    port: int = PORTS["alertmanager"]
    memory_mb: int = MEMORY_MB["alertmanager"]
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Alertmanager(pulumi.ComponentResource):
    container: docker.Container
    url: str
    internal_url: str

    def __init__(
        self, name: str, args: AlertmanagerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:stack:Alertmanager", name, None, opts)
        image = remote_image(self, name, args.image)
        volume = data_volume(self, name, args.placement, "alertmanager")
        internal = f"http://localhost:{alertmanager_yaml.PORT}{SUB_PATH}"
        self.container = docker.Container(
            f"{name}-container",
            image=image.image_id,
            # The entrypoint is the alertmanager binary; these replace its default flags.
            command=[
                f"--config.file={alertmanager_yaml.CONFIG_FILE}",
                f"--storage.path={DATA_DIR}",
                f"--web.external-url={args.public_url or internal}",
                f"--web.route-prefix={SUB_PATH}",
                # One instance: no gossip port, no peers to look for.
                "--cluster.listen-address=",
            ],
            user="65534:65534",
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            uploads=[upload(alertmanager_yaml.CONFIG_FILE, args.config)],
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=DATA_DIR)],
            ports=[args.placement.publish(alertmanager_yaml.PORT, args.port)],
            healthcheck=healthcheck(["wget", "-qO-", f"{internal}/-/healthy"]),
            networks_advanced=args.placement.network_attachment("alertmanager"),
            wait=True,
            wait_timeout=60,
            opts=child_options(self, args.depends_on),
            **container_defaults(args.placement, "alertmanager", memory_mb=args.memory_mb),
        )
        self.url = args.placement.url(args.port, f"{SUB_PATH}/")
        # What Prometheus is told: host:port and the path prefix (prometheus_yaml.render).
        self.internal_url = f"http://alertmanager:{alertmanager_yaml.PORT}{SUB_PATH}"
        self.register_outputs({"url": self.url})
