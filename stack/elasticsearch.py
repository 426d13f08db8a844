"""Elasticsearch: one node holding the lab's logs, on a named volume, 127.0.0.1:9200.

Security is off, on purpose, for this localhost-only lab: every port binds to the bind address
(127.0.0.1 by default), and with security off there is no password at all, so no default
password can leak (the built-in `elastic` user and its bootstrap password do not exist). Turning
security on would need TLS and the kibana_system/logstash users; stack/README.md says how.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from stack.containers import (
    Placement,
    child_options,
    container_defaults,
    data_volume,
    healthcheck,
    remote_image,
)
from stack.settings import ELASTICSEARCH_PORT, MEMORY_MB, PORTS, LabSettings

DATA_DIR = "/usr/share/elasticsearch/data"


@dataclass
class ElasticsearchArgs:
    placement: Placement
    image: str
    heap: str = LabSettings.elasticsearch_heap
    port: int = PORTS["elasticsearch"]
    memory_mb: int = MEMORY_MB["elasticsearch"]
    depends_on: list[pulumi.Resource] = field(default_factory=list)


class Elasticsearch(pulumi.ComponentResource):
    container: docker.Container
    internal_url: str
    url: str

    def __init__(
        self, name: str, args: ElasticsearchArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("lab:stack:Elasticsearch", name, None, opts)
        image = remote_image(self, name, args.image)
        volume = data_volume(self, name, args.placement, "elasticsearch")
        self.container = docker.Container(
            f"{name}-container",
            image=image.image_id,
            envs=[
                "cluster.name=lab",
                "node.name=elasticsearch",
                "discovery.type=single-node",
                "xpack.security.enabled=false",
                "xpack.ml.enabled=false",
                "ingest.geoip.downloader.enabled=false",
                # A laptop disk at 90% would otherwise turn the lab's indices read-only.
                "cluster.routing.allocation.disk.threshold_enabled=false",
                f"ES_JAVA_OPTS=-Xms{args.heap} -Xmx{args.heap}",
            ],
            ulimits=[docker.ContainerUlimitArgs(name="nofile", soft=65535, hard=65535)],
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=DATA_DIR)],
            ports=[args.placement.publish(ELASTICSEARCH_PORT, args.port)],
            healthcheck=healthcheck(
                [
                    "curl",
                    "-fsS",
                    f"http://localhost:{ELASTICSEARCH_PORT}"
                    "/_cluster/health?wait_for_status=yellow&timeout=2s",
                ],
                interval="10s",
                retries=12,
                start_period="60s",
            ),
            networks_advanced=args.placement.network_attachment("elasticsearch"),
            # Logstash and Kibana depend on this container: they start once it is healthy.
            wait=True,
            wait_timeout=300,
            opts=child_options(self, args.depends_on),
            **container_defaults(args.placement, "elasticsearch", memory_mb=args.memory_mb),
        )
        self.internal_url = f"http://elasticsearch:{ELASTICSEARCH_PORT}"
        self.url = args.placement.url(args.port)
        self.register_outputs({"url": self.url, "internal_url": self.internal_url})
