"""Elasticsearch: one node holding the lab's logs, on a named volume, 127.0.0.1:9200.

Security is off, on purpose, for this localhost-only lab: every port binds to the bind address
(127.0.0.1 by default), and with security off there is no password at all, so no default
password can leak (the built-in `elastic` user and its bootstrap password do not exist). Turning
security on would need TLS and the kibana_system/logstash users; stack/README.md says how.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from stack.containers import PartComponent, PublishingArgs, slow_start_healthcheck
from stack.settings import ELASTICSEARCH_PORT, LabSettings

DATA_DIR = "/usr/share/elasticsearch/data"


@dataclass(kw_only=True)
class ElasticsearchArgs(PublishingArgs):
    heap: str = LabSettings.elasticsearch_heap


class Elasticsearch(PartComponent):
    PART = "elasticsearch"

    def container_arguments(self, args: ElasticsearchArgs) -> dict:
        return dict(
            data_dir=DATA_DIR,
            envs=[
                "cluster.name=lab",
                "node.name=elasticsearch",
                "discovery.type=single-node",
                "xpack.security.enabled=false",
                "xpack.ml.enabled=false",
                "ingest.geoip.downloader.enabled=false",
                # Disk watermarks stay on at their defaults (85/90/95%): past the flood stage
                # Elasticsearch makes the lab's indices read-only instead of filling the disk.
                f"ES_JAVA_OPTS=-Xms{args.heap} -Xmx{args.heap}",
            ],
            ulimits=[docker.ContainerUlimitArgs(name="nofile", soft=65535, hard=65535)],
            ports=[args.placement.publish(ELASTICSEARCH_PORT, args.port)],
            health=slow_start_healthcheck(
                [
                    "curl",
                    "-fsS",
                    f"http://localhost:{ELASTICSEARCH_PORT}"
                    "/_cluster/health?wait_for_status=yellow&timeout=2s",
                ]
            ),
            # Logstash and Kibana depend on this container: they start once it is healthy.
            wait_timeout=300,
        )

    def outputs(self, name: str, args: ElasticsearchArgs) -> dict:
        # The read-only monitoring login the exporter uses (created by the security setup).
        self.monitor_user = "lab_monitor"
        self.monitor_password = pulumi.Config("lab").require_secret("monitorPassword")
        self.internal_url = f"http://elasticsearch:{ELASTICSEARCH_PORT}"
        self.url = args.placement.url(args.port)
        return {"url": self.url, "internal_url": self.internal_url}
