"""Kibana under /kibana, started once Elasticsearch is healthy, with the lab's saved objects."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from stack.containers import Placement, child_options, container_defaults, healthcheck, remote_image
from stack.kibana_import import KibanaSavedObjects
from stack.settings import KIBANA_PORT, KIBANA_SUB_PATH, MEMORY_MB, PORTS


@dataclass
class KibanaArgs:
    placement: Placement
    image: str
    elasticsearch_url: str
    saved_objects: str  # NDJSON from dashboards.kibana_objects.render
    public_url: str  # through Traefik, e.g. http://127.0.0.1:8000/kibana
    port: int = PORTS["kibana"]
    memory_mb: int = MEMORY_MB["kibana"]
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Kibana(pulumi.ComponentResource):
    container: docker.Container
    saved_objects: KibanaSavedObjects
    url: str

    def __init__(
        self, name: str, args: KibanaArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:stack:Kibana", name, None, opts)
        image = remote_image(self, name, args.image)
        self.container = docker.Container(
            f"{name}-container",
            image=image.image_id,
            envs=[
                f'ELASTICSEARCH_HOSTS=["{args.elasticsearch_url}"]',
                "SERVER_HOST=0.0.0.0",
                "SERVER_NAME=kibana",
                f"SERVER_BASEPATH={KIBANA_SUB_PATH}",
                "SERVER_REWRITEBASEPATH=true",
                f"SERVER_PUBLICBASEURL={args.public_url}",
                "TELEMETRY_OPTIN=false",
                "TELEMETRY_ENABLED=false",
                "NEWSFEED_ENABLED=false",
            ],
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            ports=[args.placement.publish(KIBANA_PORT, args.port)],
            healthcheck=healthcheck(
                ["curl", "-fsS", f"http://localhost:{KIBANA_PORT}{KIBANA_SUB_PATH}/api/status"],
                interval="10s",
                retries=18,
                start_period="90s",
            ),
            networks_advanced=args.placement.network_attachment("kibana"),
            wait=True,
            wait_timeout=400,
            opts=child_options(self, args.depends_on),
            **container_defaults(args.placement, "kibana", memory_mb=args.memory_mb),
        )
        # The import runs from where Pulumi runs, so it uses the published port.
        direct_url = args.placement.url(args.port, KIBANA_SUB_PATH)
        self.saved_objects = KibanaSavedObjects(
            f"{name}-saved-objects",
            kibana_url=direct_url,
            ndjson=args.saved_objects,
            trigger=self.container.id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.container]),
        )
        self.url = args.public_url
        self.register_outputs({"url": self.url, "direct_url": direct_url})
