"""The blackbox exporter: probes the API through Traefik and each part's health endpoint; the
passwords its probes send (Elasticsearch's monitoring user, Logstash's API user, Prometheus'
monitoring login) reach it as 0400 files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from stack import elasticsearch_tls as es_tls
from stack.configs import blackbox_yaml
from stack.containers import PartArgs, PartComponent, healthcheck, secret_upload, upload
from stack.hardening import HARDENING

BLACKBOX_UID = HARDENING["blackbox"].user.split(":")[0]  # nobody (stack/hardening.py)
HEALTH_COMMAND = ("wget", "-qO-", f"http://localhost:{blackbox_yaml.PORT}/-/healthy")
EXPORTER_UID = "65534"  # the image's user (nobody), stack/hardening.py
# The Elasticsearch probe's password (lab_monitor's), named by the module's password_file.
ELASTICSEARCH_PASSWORD_FILE = "/run/secrets/blackbox-elasticsearch-password"
# The Logstash probe's (logstash_api.USER's, the API's own login).
LOGSTASH_PASSWORD_FILE = "/run/secrets/blackbox-logstash-password"
# The Prometheus probe's (web_config.MONITORING_USER's, Prometheus' own login).
MONITORING_PASSWORD_FILE = "/run/secrets/blackbox-monitoring-password"


@dataclass(kw_only=True)
class BlackboxArgs(PartArgs):
    config: str  # blackbox_yaml.render(...)
    # The lab's CA (PEM) for probes of an https Elasticsearch (Swarm: stack/elasticsearch_tls.py).
    ca_certificate: pulumi.Input[str] | None = None
    # path -> password, for the modules' basic_auth password_file (0400 for the exporter).
    password_files: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


class Blackbox(PartComponent):
    PART = "blackbox"

    def container_arguments(self, args: BlackboxArgs) -> dict:
        secrets = [
            secret_upload(path, password, owner=EXPORTER_UID)
            for path, password in args.password_files.items()
        ]
        return dict(
            command=[f"--config.file={blackbox_yaml.CONFIG_FILE}"],
            uploads=[
                upload(blackbox_yaml.CONFIG_FILE, args.config),
                *es_tls.ca_uploads(args.ca_certificate, owner=BLACKBOX_UID),
                *secrets,
            ],
            # No published port: only Prometheus, on the lab network, asks it to probe.
            health=healthcheck(HEALTH_COMMAND),
        )

    def outputs(self, name: str, args: BlackboxArgs) -> dict:
        # host:port Prometheus scrapes the probes through (blackbox_yaml.scrape_jobs(exporter=)).
        self.address = f"blackbox:{blackbox_yaml.PORT}"
        return {"address": self.address}
