"""Kibana under /kibana, started once Elasticsearch is healthy, with the lab's saved objects."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from stack.containers import PartComponent, PublishingArgs, slow_start_healthcheck
from stack.kibana_import import KibanaSavedObjects
from stack.settings import KIBANA_PORT, KIBANA_SUB_PATH


@dataclass(kw_only=True)
class KibanaArgs(PublishingArgs):
    elasticsearch_url: str
    saved_objects: str  # NDJSON from dashboards.kibana_objects.render
    public_url: str  # through Traefik, e.g. http://127.0.0.1:8000/kibana


class Kibana(PartComponent):
    PART = "kibana"

    def container_arguments(self, args: KibanaArgs) -> dict:
        return dict(
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
            ports=[args.placement.publish(KIBANA_PORT, args.port)],
            health=slow_start_healthcheck(
                ["curl", "-fsS", f"http://localhost:{KIBANA_PORT}{KIBANA_SUB_PATH}/api/status"],
                retries=18,
                start_period="90s",
            ),
            wait_timeout=400,
        )

    def outputs(self, name: str, args: KibanaArgs) -> dict:
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
        return {"url": self.url, "direct_url": direct_url}
