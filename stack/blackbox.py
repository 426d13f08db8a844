"""The blackbox exporter: probes the API through Traefik and each part's health endpoint."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from stack import elasticsearch_tls as es_tls
from stack.configs import blackbox_yaml
from stack.containers import PartArgs, PartComponent, healthcheck, upload
from stack.hardening import HARDENING

BLACKBOX_UID = HARDENING["blackbox"].user.split(":")[0]  # nobody (stack/hardening.py)
HEALTH_COMMAND = ("wget", "-qO-", f"http://localhost:{blackbox_yaml.PORT}/-/healthy")


@dataclass(kw_only=True)
class BlackboxArgs(PartArgs):
    config: str  # blackbox_yaml.render(...)
    # The lab's CA (PEM) for probes of an https Elasticsearch (Swarm: stack/elasticsearch_tls.py).
    ca_certificate: pulumi.Input[str] | None = None


class Blackbox(PartComponent):
    PART = "blackbox"

    def container_arguments(self, args: BlackboxArgs) -> dict:
        return dict(
            command=[f"--config.file={blackbox_yaml.CONFIG_FILE}"],
            uploads=[
                upload(blackbox_yaml.CONFIG_FILE, args.config),
                *es_tls.ca_uploads(args.ca_certificate, owner=BLACKBOX_UID),
            ],
            # No published port: only Prometheus, on the lab network, asks it to probe.
            health=healthcheck(HEALTH_COMMAND),
        )

    def outputs(self, name: str, args: BlackboxArgs) -> dict:
        # host:port Prometheus scrapes the probes through (blackbox_yaml.scrape_jobs(exporter=)).
        self.address = f"blackbox:{blackbox_yaml.PORT}"
        return {"address": self.address}
