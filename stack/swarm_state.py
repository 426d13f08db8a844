"""Grafana and the Elastic stack on Swarm (`lab:engine: swarm`), from the same Args and
renderers as on one host: every one pinned to the node labelled lab.state=true, where their
named volumes live; passwords as Swarm secrets mounted as 0400 files owned by the process's
uid, config files as Swarm configs with versioned names, never a password in the environment.

Logstash's GELF input is published in host mode on the state node, and the tasks' gelf driver
dials `tcp://<state host>:<port>` (stack/log_shipping.py): the state node's address as every
node reaches it (`lab:swarmStateHost`), because the driver runs in each node's Docker daemon,
outside the overlay, where 127.0.0.1 is the sending node itself.
"""

from __future__ import annotations

from stack import elasticsearch as es
from stack import grafana, kibana, log_shipping, logstash
from stack.configs import (
    kibana_yml,
    logstash_alerts,
    logstash_conf,
)
from stack.configs.logstash_health import command as logstash_health
from stack.containers import PartArgs
from stack.grafana import GRAFANA_UID, GrafanaArgs
from stack.kibana import KibanaArgs
from stack.logstash import LogstashArgs
from stack.settings import (
    ELASTICSEARCH_PORT,
    GRAFANA_PORT,
    KIBANA_PORT,
    KIBANA_SUB_PATH,
    LOGSTASH_GELF_PORT,
)
from stack.swarm_objects import (
    STATE_CONSTRAINT,
    PartService,
    healthcheck,
    host_ports,
    slow_start_healthcheck,
)

ELASTIC_UID = es.ES_UID  # Elasticsearch, Logstash and Kibana images all run as uid 1000


class SwarmGrafana(PartService):
    """Grafana on the state node, stateless as on one host (everything it shows is
    provisioned from configs), its admin password a secret file (GF_..._PASSWORD__FILE)."""

    PART = "grafana"

    def service_arguments(self, args: GrafanaArgs) -> dict:
        password = grafana.secret_files(args)
        return dict(
            env=grafana.environment(args),
            configs=self.configs(grafana.provisioning_files(args), owner=GRAFANA_UID),
            secrets=self.secrets(password, owner=GRAFANA_UID),
            healthcheck=healthcheck(grafana.HEALTH_COMMAND, **grafana.HEALTH_TIMING),
            constraints=[STATE_CONSTRAINT],
            endpoint=host_ports((GRAFANA_PORT, args.port)),
        )

    def outputs(self, args: GrafanaArgs) -> dict:
        self.url = args.public_url
        return {"url": self.url}


class StatePartService(PartService):
    """A part on the state node that others reach at `state_host`, the state node's address as
    every node (and Pulumi) reaches it."""

    def __init__(self, name: str, args: PartArgs, opts=None, *, state_host: str) -> None:
        self.state_host = state_host
        super().__init__(name, args, opts)


class SwarmElasticsearch(StatePartService):
    """One Elasticsearch node on the state node with its data volume there; the elastic
    password and the health check's curl config are secret files for uid 1000."""

    PART = "elasticsearch"

    def service_arguments(self, args: es.ElasticsearchArgs) -> dict:
        return dict(
            env=es.environment(args),
            secrets=self.secrets(es.password_files(args), owner=ELASTIC_UID),
            data_dir=es.DATA_DIR,
            healthcheck=slow_start_healthcheck(es.HEALTH_COMMAND),
            constraints=[STATE_CONSTRAINT],
            endpoint=host_ports((ELASTICSEARCH_PORT, args.port)),
        )

    def outputs(self, args: es.ElasticsearchArgs) -> dict:
        self.internal_url = f"http://elasticsearch:{ELASTICSEARCH_PORT}"
        # The published port on the state node, where Pulumi's security step signs in.
        self.url = f"http://{self.state_host}:{args.port}"
        es.secure(self, self.name, args)
        return {"url": self.url, "internal_url": self.internal_url}


class SwarmLogstash(StatePartService):
    """Logstash on the state node: its persisted queue on its volume there, its GELF input
    published in host mode there for every node's Docker daemon (`state_host`)."""

    PART = "logstash"

    def service_arguments(self, args: LogstashArgs) -> dict:
        return dict(
            env={"LS_JAVA_OPTS": f"-Xms{args.heap} -Xmx{args.heap}"},
            configs=self.configs(logstash.config_files(args), owner=ELASTIC_UID),
            # The pipelines are secrets, as they are 0400 uploads on one host (stack/logstash.py).
            secrets=self.secrets(logstash.pipeline_files(args), owner=ELASTIC_UID),
            data_dir=logstash_conf.DATA_DIR,
            healthcheck=slow_start_healthcheck(logstash_health()),
            constraints=[STATE_CONSTRAINT],
            endpoint=host_ports(
                (LOGSTASH_GELF_PORT, args.gelf_port), protocol=log_shipping.GELF_SCHEME
            ),
        )

    def outputs(self, args: LogstashArgs) -> dict:
        # Seen from every node's Docker daemon, not from the overlay.
        self.gelf_address = log_shipping.gelf_address(self.state_host, args.gelf_port)
        self.alerts_webhook_url = logstash_alerts.webhook_url() if args.alerts else None
        return {"gelf_address": self.gelf_address}


class SwarmKibana(StatePartService):
    """Kibana on the state node; its saved objects imported through its published port
    there (`state_host`), from wherever Pulumi runs."""

    PART = "kibana"

    def service_arguments(self, args: KibanaArgs) -> dict:
        # The whole configuration is kibana.yml, a secret (it holds kibana_system's password;
        # Kibana's image turns its environment into command-line arguments: kibana_yml.py).
        files = {kibana_yml.CONFIG_FILE: kibana.config(args)}
        return dict(
            secrets=self.secrets(files, owner=kibana_yml.KIBANA_UID),
            healthcheck=slow_start_healthcheck(kibana.HEALTH_COMMAND, **kibana.HEALTH_TIMING),
            constraints=[STATE_CONSTRAINT],
            endpoint=host_ports((KIBANA_PORT, args.port)),
        )

    def outputs(self, args: KibanaArgs) -> dict:
        direct_url = f"http://{self.state_host}:{args.port}{KIBANA_SUB_PATH}"
        kibana.import_objects(self, self.name, args, direct_url)
        return {"url": self.url, "direct_url": direct_url}
