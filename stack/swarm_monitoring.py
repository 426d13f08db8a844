"""The monitoring parts on Swarm (`lab:engine: swarm`), from the same Args and renderers as on
one host: Alertmanager on the state node with its volume, the blackbox exporter, node-exporter
as a global service (one task per node, discovered with DNS SD on `tasks.<service>`) and, with
`lab:logs`, the Elasticsearch and Logstash exporters. `declare()` mirrors stack/monitoring.py's.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi_docker as docker

from stack import (
    alertmanager,
    blackbox,
    elasticsearch_exporter,
    elasticsearch_tls,
    logstash_exporter,
    monitoring,
    node_exporter,
    prometheus,
)
from stack.alertmanager import AlertmanagerArgs
from stack.blackbox import BlackboxArgs
from stack.configs import alertmanager_yaml, blackbox_yaml, prometheus_yaml
from stack.containers import Placement, ScrapedPart, static_job
from stack.elasticsearch_exporter import ElasticsearchExporterArgs
from stack.logstash_exporter import LogstashExporterArgs
from stack.monitoring import NODE_JOB, Monitoring
from stack.node_exporter import NodeExporterArgs
from stack.settings import LabSettings
from stack.settings_tables import ALERTMANAGER_SUB_PATH
from stack.swarm_objects import (
    NODE_HOSTNAME,
    STATE_CONSTRAINT,
    PartService,
    healthcheck,
    host_ports,
    service_name,
)


class SwarmAlertmanager(PartService):
    """Alertmanager on the state node, its silences and notification log on its volume there."""

    PART = "alertmanager"

    def service_arguments(self, args: AlertmanagerArgs) -> dict:
        return dict(
            args=alertmanager.flags(args),
            configs=self.configs({alertmanager_yaml.CONFIG_FILE: args.config}),
            secrets=self.secrets(
                {**args.receiver_files, **alertmanager.secret_files(args)}, owner=prometheus.NOBODY
            )
            or None,
            data_dir=alertmanager.DATA_DIR,
            healthcheck=healthcheck(prometheus.health_command(args, alertmanager.HEALTH_URL)),
            constraints=[STATE_CONSTRAINT],
            endpoint=host_ports((alertmanager_yaml.PORT, args.port)) if args.publish else None,
        )

    def outputs(self, args: AlertmanagerArgs) -> dict:
        self.url = (
            args.placement.url(args.port, f"{ALERTMANAGER_SUB_PATH}/")
            if args.publish
            else args.public_url
        )
        self.internal_url = alertmanager.INTERNAL_URL
        return {"url": self.url}


class SwarmScrapedPart(PartService):
    """A part Prometheus scrapes at `{PART}:{port}` under one job, as on one host (ScrapedPart)."""

    SCRAPED: ClassVar[type[ScrapedPart]]  # the single-host component: its port and job

    def outputs(self, args: Any) -> dict:
        self.address = f"{self.PART}:{self.SCRAPED.PORT}"
        return {"address": self.address}

    def scrape_job(self) -> dict:
        return static_job(self.SCRAPED.JOB, self.address)


class SwarmBlackbox(PartService):
    """The blackbox exporter, anywhere: it probes through Traefik and the parts' names."""

    PART = "blackbox"

    def service_arguments(self, args: BlackboxArgs) -> dict:
        return dict(
            args=[f"--config.file={blackbox_yaml.CONFIG_FILE}"],
            configs=self.configs({blackbox_yaml.CONFIG_FILE: args.config}),
            # The CA the Elasticsearch probe verifies HTTPS with (stack/elasticsearch_tls.py),
            # and the passwords its probes sign in with.
            secrets=self.secrets(
                {
                    **(
                        {elasticsearch_tls.CLIENT_CA_FILE: args.ca_certificate}
                        if args.ca_certificate
                        else {}
                    ),
                    **args.password_files,
                },
                owner=blackbox.EXPORTER_UID,
            )
            or None,
            healthcheck=healthcheck(blackbox.HEALTH_COMMAND),
        )

    def outputs(self, args: BlackboxArgs) -> dict:
        self.address = f"blackbox:{blackbox_yaml.PORT}"
        return {"address": self.address}


class SwarmNodeExporter(PartService):
    """node-exporter as a global service: one task per node, reading that node's /proc, /sys
    and / through read-only binds; the task's hostname is its node's (node_uname_info)."""

    PART = "node_exporter"

    def service_arguments(self, args: NodeExporterArgs) -> dict:
        return dict(
            global_mode=True,
            hostname=NODE_HOSTNAME,
            args=list(node_exporter.ARGUMENTS),
            mounts=[
                docker.ServiceTaskSpecContainerSpecMountArgs(
                    source=host, target=inside, type="bind", read_only=True
                )
                for host, inside in node_exporter.HOST_MOUNTS.items()
            ],
            healthcheck=healthcheck(node_exporter.HEALTH_COMMAND),
        )

    def outputs(self, args: NodeExporterArgs) -> dict:
        self.docker_name = service_name(args.placement, self.PART)
        return {"service": self.docker_name}

    def scrape_job(self) -> dict:
        """Every node's task by DNS SD, under the single-host job name."""
        return {
            "job_name": NODE_JOB,
            "dns_sd_configs": [
                {
                    "names": [f"tasks.{self.docker_name}"],
                    "type": "A",
                    "port": node_exporter.PORT,
                    "refresh_interval": prometheus_yaml.DNS_REFRESH,
                }
            ],
        }


class SwarmElasticsearchExporter(SwarmScrapedPart):
    PART = "elasticsearch_exporter"
    SCRAPED = elasticsearch_exporter.ElasticsearchExporter

    def service_arguments(self, args: ElasticsearchExporterArgs) -> dict:
        files = {elasticsearch_exporter.PASSWORD_FILE: args.password}
        if args.ca_certificate:
            files[elasticsearch_tls.CLIENT_CA_FILE] = args.ca_certificate
        return dict(
            commands=elasticsearch_exporter.start_command(args),
            secrets=self.secrets(files, owner=elasticsearch_exporter.EXPORTER_UID),
            healthcheck=healthcheck(elasticsearch_exporter.HEALTH_COMMAND),
        )


class SwarmLogstashExporter(SwarmScrapedPart):
    PART = "logstash_exporter"
    SCRAPED = logstash_exporter.LogstashExporter

    def service_arguments(self, args: LogstashExporterArgs) -> dict:
        files = logstash_exporter.password_files(args)
        return dict(
            commands=list(logstash_exporter.ENTRYPOINT),
            args=list(logstash_exporter.ARGUMENTS),
            secrets=self.secrets(files, owner=logstash_exporter.EXPORTER_UID),
            healthcheck=healthcheck(logstash_exporter.HEALTH_COMMAND),
        )


# Each monitoring part's Swarm service, for stack/monitoring.declare().
SERVICES = {
    "elasticsearch_exporter": SwarmElasticsearchExporter,
    "logstash_exporter": SwarmLogstashExporter,
    "alertmanager": SwarmAlertmanager,
    "blackbox": SwarmBlackbox,
    "node_exporter": SwarmNodeExporter,
}


def declare(name: str, placement: Placement, settings: LabSettings, **wiring: Any) -> Monitoring:
    """stack/monitoring.declare() with the Swarm services: the same switches, jobs and URLs."""
    return monitoring.declare(name, placement, settings, classes=SERVICES, **wiring)
