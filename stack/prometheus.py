"""Prometheus: scrapes Traefik, every replica and itself; evaluates the lab's rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_docker as docker

from stack.configs import prometheus_yaml
from stack.containers import (
    Placement,
    child_options,
    container_defaults,
    data_volume,
    healthcheck,
    remote_image,
    upload,
)
from stack.settings import MEMORY_MB, PORTS, PROMETHEUS_PORT, TRAEFIK_API_PORT, LabSettings

DATA_DIR = "/prometheus"


@dataclass
class PrometheusArgs:
    placement: Placement
    image: str
    function_targets: Mapping[str, Sequence[str]]
    rules: str
    port: int = PORTS["prometheus"]
    retention: str = LabSettings.prometheus_retention
    memory_mb: int = MEMORY_MB["prometheus"]
    # Where alerts go (None: nowhere but Prometheus' own page) and jobs beyond its own
    # (probes, node-exporter), as prometheus_yaml.render takes them.
    alertmanager_url: str | None = None
    extra_jobs: Sequence[Mapping[str, Any]] = ()
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Prometheus(pulumi.ComponentResource):
    container: docker.Container
    url: str

    def __init__(
        self, name: str, args: PrometheusArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:stack:Prometheus", name, None, opts)
        image = remote_image(self, name, args.image)
        volume = data_volume(self, name, args.placement, "prometheus")
        config = prometheus_yaml.render(
            function_targets=args.function_targets,
            traefik_target=f"traefik:{TRAEFIK_API_PORT}",
            self_target=f"localhost:{PROMETHEUS_PORT}",
            rule_files=[prometheus_yaml.RULES_FILE],
            alertmanager_url=args.alertmanager_url,
            extra_jobs=args.extra_jobs,
        )
        self.container = docker.Container(
            f"{name}-container",
            image=image.image_id,
            # The image's entrypoint is the prometheus binary; these replace its default flags.
            command=[
                f"--config.file={prometheus_yaml.CONFIG_FILE}",
                f"--storage.tsdb.path={DATA_DIR}",
                f"--storage.tsdb.retention.time={args.retention}",
                # No --web.enable-lifecycle: it would let anyone reaching the port POST /-/quit
                # (issue 11); a config change replaces the container through its upload anyway.
            ],
            user="65534:65534",
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            uploads=[
                upload(prometheus_yaml.CONFIG_FILE, config),
                upload(prometheus_yaml.RULES_FILE, args.rules),
            ],
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=DATA_DIR)],
            ports=[args.placement.publish(PROMETHEUS_PORT, args.port)],
            healthcheck=healthcheck(
                ["wget", "-qO-", f"http://localhost:{PROMETHEUS_PORT}/-/healthy"]
            ),
            networks_advanced=args.placement.network_attachment("prometheus"),
            # Grafana starts after Prometheus answers, not merely after it was created.
            wait=True,
            wait_timeout=120,
            opts=child_options(self, args.depends_on),
            **container_defaults(args.placement, "prometheus", memory_mb=args.memory_mb),
        )
        self.url = args.placement.url(args.port)
        self.register_outputs({"url": self.url, "config": config})
