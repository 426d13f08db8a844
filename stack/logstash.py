"""Logstash: GELF from Docker's log driver in, ECS documents out to Elasticsearch.

The GELF input is published on the bind address (127.0.0.1:12201/udp) because the Docker
daemon, on the host, is what sends the function containers' output there. A persisted queue on
a named volume keeps accepted events across a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from stack.configs import elasticsearch_template, logstash_alerts, logstash_conf
from stack.configs.logstash_health import command as health_command
from stack.containers import (
    Placement,
    child_options,
    container_defaults,
    data_volume,
    healthcheck,
    remote_image,
    upload,
)
from stack.settings import LOGSTASH_GELF_PORT, MEMORY_MB, PORTS, LabSettings


@dataclass
class LogstashArgs:
    placement: Placement
    image: str
    elasticsearch_url: str
    heap: str = LabSettings.logstash_heap
    gelf_port: int = PORTS["gelf"]
    memory_mb: int = MEMORY_MB["logstash"]
    # Alertmanager's webhook on an HTTP input, into the alerts index (logstash_alerts.py).
    alerts: bool = False
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Logstash(pulumi.ComponentResource):
    container: docker.Container
    gelf_address: str

    def __init__(
        self, name: str, args: LogstashArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:stack:Logstash", name, None, opts)
        image = remote_image(self, name, args.image)
        volume = data_volume(self, name, args.placement, "logstash")
        self.container = docker.Container(
            f"{name}-container",
            image=image.image_id,
            envs=[f"LS_JAVA_OPTS=-Xms{args.heap} -Xmx{args.heap}"],
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            uploads=[
                upload(logstash_conf.SETTINGS_FILE, logstash_conf.settings()),
                upload(
                    logstash_conf.PIPELINE_FILE,
                    logstash_conf.pipeline(
                        elasticsearch_url=args.elasticsearch_url, alerts=args.alerts
                    ),
                ),
                upload(logstash_conf.TEMPLATE_FILE, elasticsearch_template.render()),
                *(
                    [upload(logstash_alerts.TEMPLATE_FILE, logstash_alerts.render_template())]
                    if args.alerts
                    else []
                ),
            ],
            volumes=[
                docker.ContainerVolumeArgs(
                    volume_name=volume.name, container_path=logstash_conf.DATA_DIR
                )
            ],
            ports=[args.placement.publish(LOGSTASH_GELF_PORT, args.gelf_port, protocol="udp")],
            healthcheck=healthcheck(
                # Not `GET /`: that answers 200 before the pipeline runs (logstash_health.py).
                health_command(),
                interval="10s",
                retries=12,
                start_period="60s",
            ),
            networks_advanced=args.placement.network_attachment("logstash"),
            # The function replicas start after this, so their start-up lines are not lost.
            wait=True,
            wait_timeout=300,
            # The provider neither replaces nor updates a container for a new health check
            # (docs/product-rules.md D1), so the pipeline-aware check needs a replacement.
            opts=child_options(self, args.depends_on, replace_on_changes=["healthcheck"]),
            **container_defaults(args.placement, "logstash", memory_mb=args.memory_mb),
        )
        # Seen from the Docker daemon on the host, not from the lab network.
        self.gelf_address = f"udp://{args.placement.client_host}:{args.gelf_port}"
        # Where Alertmanager posts, on the lab network (None without the HTTP input).
        self.alerts_webhook_url = logstash_alerts.webhook_url() if args.alerts else None
        self.register_outputs({"gelf_address": self.gelf_address})
