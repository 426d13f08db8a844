"""The monitoring parts on Swarm (`lab:engine: swarm`), from the same Args and renderers as on
one host: Alertmanager on the state node with its volume, the blackbox exporter, node-exporter
as a global service (one task per node, discovered with DNS SD on `tasks.<service>`) and, with
`lab:logs`, the Elasticsearch and Logstash exporters. `declare()` mirrors stack/monitoring.py's.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_docker as docker

from stack import elasticsearch_exporter, logstash_exporter, monitoring
from stack.alertmanager import DATA_DIR as ALERTMANAGER_DATA
from stack.alertmanager import AlertmanagerArgs
from stack.blackbox import BlackboxArgs
from stack.configs import alertmanager_yaml, blackbox_yaml, prometheus_yaml
from stack.containers import Placement, static_job
from stack.elasticsearch_exporter import ElasticsearchExporterArgs
from stack.logstash_exporter import LogstashExporterArgs
from stack.monitoring import NODE_JOB, Monitoring
from stack.node_exporter import HOST_MOUNTS, NodeExporterArgs
from stack.node_exporter import PORT as NODE_PORT
from stack.settings import LabSettings
from stack.settings_tables import ALERTMANAGER_SUB_PATH
from stack.swarm_objects import (
    NODE_HOSTNAME,
    STATE_CONSTRAINT,
    file_configs,
    healthcheck,
    host_ports,
    part_service,
    secret_files,
    service_name,
)


class SwarmAlertmanager(pulumi.ComponentResource):
    """Alertmanager on the state node, its silences and notification log on its volume there."""

    def __init__(self, name: str, args: AlertmanagerArgs, opts=None) -> None:
        super().__init__("lab:swarm:Alertmanager", name, None, opts)
        internal = f"http://localhost:{alertmanager_yaml.PORT}{ALERTMANAGER_SUB_PATH}"
        files = {alertmanager_yaml.CONFIG_FILE: args.config}
        self.container = part_service(
            self,
            name,
            args,
            "alertmanager",
            args=[
                f"--config.file={alertmanager_yaml.CONFIG_FILE}",
                f"--storage.path={ALERTMANAGER_DATA}",
                f"--web.external-url={args.public_url or internal}",
                f"--web.route-prefix={ALERTMANAGER_SUB_PATH}",
                # One instance: no gossip port, no peers to look for.
                "--cluster.listen-address=",
            ],
            configs=file_configs(self, name, args.placement, "alertmanager", files),
            data_dir=ALERTMANAGER_DATA,
            healthcheck=healthcheck(["wget", "-qO-", f"{internal}/-/healthy"]),
            constraints=[STATE_CONSTRAINT],
            endpoint=host_ports((alertmanager_yaml.PORT, args.port)),
        )
        self.url = args.placement.url(args.port, f"{ALERTMANAGER_SUB_PATH}/")
        self.internal_url = f"http://alertmanager:{alertmanager_yaml.PORT}{ALERTMANAGER_SUB_PATH}"
        self.register_outputs({"url": self.url})


class SwarmBlackbox(pulumi.ComponentResource):
    """The blackbox exporter, anywhere: it probes through Traefik and the parts' names."""

    def __init__(self, name: str, args: BlackboxArgs, opts=None) -> None:
        super().__init__("lab:swarm:Blackbox", name, None, opts)
        files = {blackbox_yaml.CONFIG_FILE: args.config}
        self.container = part_service(
            self,
            name,
            args,
            "blackbox",
            args=[f"--config.file={blackbox_yaml.CONFIG_FILE}"],
            configs=file_configs(self, name, args.placement, "blackbox", files),
            healthcheck=healthcheck(
                ["wget", "-qO-", f"http://localhost:{blackbox_yaml.PORT}/-/healthy"]
            ),
        )
        self.address = f"blackbox:{blackbox_yaml.PORT}"
        self.register_outputs({"address": self.address})


class SwarmNodeExporter(pulumi.ComponentResource):
    """node-exporter as a global service: one task per node, reading that node's /proc, /sys
    and / through read-only binds; the task's hostname is its node's (node_uname_info)."""

    def __init__(self, name: str, args: NodeExporterArgs, opts=None) -> None:
        super().__init__("lab:swarm:NodeExporter", name, None, opts)
        self.container = part_service(
            self,
            name,
            args,
            "node_exporter",
            global_mode=True,
            hostname=NODE_HOSTNAME,
            args=[
                f"--path.procfs={HOST_MOUNTS['/proc']}",
                f"--path.sysfs={HOST_MOUNTS['/sys']}",
                f"--path.rootfs={HOST_MOUNTS['/']}",
            ],
            mounts=[
                docker.ServiceTaskSpecContainerSpecMountArgs(
                    source=host, target=inside, type="bind", read_only=True
                )
                for host, inside in HOST_MOUNTS.items()
            ],
            healthcheck=healthcheck(["wget", "-qO-", f"http://localhost:{NODE_PORT}/metrics"]),
        )
        self.docker_name = service_name(args.placement, "node_exporter")
        self.register_outputs({"service": self.docker_name})

    def scrape_job(self) -> dict:
        """Every node's task by DNS SD, under the single-host job name."""
        return {
            "job_name": NODE_JOB,
            "dns_sd_configs": [
                {
                    "names": [f"tasks.{self.docker_name}"],
                    "type": "A",
                    "port": NODE_PORT,
                    "refresh_interval": prometheus_yaml.DNS_REFRESH,
                }
            ],
        }


class SwarmElasticsearchExporter(pulumi.ComponentResource):
    def __init__(self, name: str, args: ElasticsearchExporterArgs, opts=None) -> None:
        super().__init__("lab:swarm:ElasticsearchExporter", name, None, opts)
        password = {elasticsearch_exporter.PASSWORD_FILE: args.password}
        self.container = part_service(
            self,
            name,
            args,
            "elasticsearch_exporter",
            commands=elasticsearch_exporter.start_command(args),
            secrets=secret_files(
                self,
                name,
                args.placement,
                "elasticsearch_exporter",
                password,
                owner=elasticsearch_exporter.EXPORTER_UID,
            ),
            healthcheck=healthcheck(elasticsearch_exporter.HEALTH_COMMAND),
        )
        self.address = f"elasticsearch_exporter:{elasticsearch_exporter.PORT}"
        self.register_outputs({"address": self.address})

    def scrape_job(self) -> dict:
        return static_job(elasticsearch_exporter.JOB, self.address)


class SwarmLogstashExporter(pulumi.ComponentResource):
    def __init__(self, name: str, args: LogstashExporterArgs, opts=None) -> None:
        super().__init__("lab:swarm:LogstashExporter", name, None, opts)
        self.container = part_service(
            self,
            name,
            args,
            "logstash_exporter",
            commands=list(logstash_exporter.ENTRYPOINT),
            args=list(logstash_exporter.ARGUMENTS),
            healthcheck=healthcheck(logstash_exporter.HEALTH_COMMAND),
        )
        self.address = f"logstash_exporter:{logstash_exporter.PORT}"
        self.register_outputs({"address": self.address})

    def scrape_job(self) -> dict:
        return static_job(logstash_exporter.JOB, self.address)


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
