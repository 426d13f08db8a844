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
from stack import elasticsearch_tls, grafana, kibana, log_shipping, logstash
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
    """Grafana on the state node with its data volume there, as on one host (provisioned from
    configs), its admin password a secret file set at every start (grafana.START_COMMAND)."""

    PART = "grafana"

    def service_arguments(self, args: GrafanaArgs) -> dict:
        password = grafana.secret_files(args)
        return dict(
            commands=list(grafana.START_COMMAND),
            data_dir=grafana.DATA_DIR,
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

    def ca_file(self, ca_certificate) -> dict:
        """The lab's CA as the client's 0400 file (stack/elasticsearch_tls.py), or nothing."""
        return {elasticsearch_tls.CLIENT_CA_FILE: ca_certificate} if ca_certificate else {}


class SwarmElasticsearch(StatePartService):
    """One Elasticsearch node on the state node with its data volume there; the elastic
    password and the health check's curl config are secret files for uid 1000. With `tls`
    (stack/elasticsearch_tls.py), its HTTP is HTTPS with the lab's CA, the key and
    certificates secret files in its config directory, and every client verifies it."""

    PART = "elasticsearch"

    def __init__(
        self,
        name: str,
        args: es.ElasticsearchArgs,
        opts=None,
        *,
        state_host: str,
        tls: elasticsearch_tls.ElasticsearchTls | None = None,
    ) -> None:
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.ca_certificate = tls.ca_certificate if tls else None
        super().__init__(name, args, opts, state_host=state_host)

    def service_arguments(self, args: es.ElasticsearchArgs) -> dict:
        files = {**es.password_files(args), **(self.tls.server_files() if self.tls else {})}
        env = es.environment(args)
        if self.tls:
            env.update(elasticsearch_tls.server_settings())
        return dict(
            env=env,
            secrets=self.secrets(files, owner=ELASTIC_UID),
            data_dir=es.DATA_DIR,
            healthcheck=slow_start_healthcheck(es.health_command(tls=self.tls is not None)),
            constraints=[STATE_CONSTRAINT],
            endpoint=host_ports((ELASTICSEARCH_PORT, args.port)),
        )

    def outputs(self, args: es.ElasticsearchArgs) -> dict:
        self.internal_url = f"{self.scheme}://elasticsearch:{ELASTICSEARCH_PORT}"
        # The published port on the state node, where Pulumi's security step signs in.
        self.url = f"{self.scheme}://{self.state_host}:{args.port}"
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
            # The files with a password are secrets, as they are 0400 uploads on one host.
            secrets=self.secrets(
                {**logstash.secret_files(args), **self.ca_file(args.elasticsearch_ca)},
                owner=ELASTIC_UID,
            ),
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
        self.api_password = args.api_password  # for the exporter and the probe
        return {"gelf_address": self.gelf_address}


class SwarmKibana(StatePartService):
    """Kibana on the state node; its saved objects imported through its published port
    there (`state_host`), from wherever Pulumi runs. With `tls` (its certificate and key, from
    the lab's CA: stack/configs/elasticsearch_tls.py), its own port serves HTTPS, which the
    import, Traefik, the probe and the health check verify with that CA."""

    PART = "kibana"

    def __init__(
        self, name: str, args: KibanaArgs, opts=None, *, state_host: str, tls=None
    ) -> None:
        self.tls = tls if args.elasticsearch_ca else None  # its clients need the CA too
        self.scheme = "https" if self.tls else "http"
        super().__init__(name, args, opts, state_host=state_host)

    def service_arguments(self, args: KibanaArgs) -> dict:
        # The whole configuration is kibana.yml, a secret (it holds kibana_system's password;
        # Kibana's image turns its environment into command-line arguments: kibana_yml.py).
        files = {
            kibana_yml.CONFIG_FILE: kibana.config(args, server_tls=self.tls is not None),
            **self.ca_file(args.elasticsearch_ca),
        }
        if self.tls:
            certificate, key = self.tls
            files[elasticsearch_tls.KIBANA_CERTIFICATE_FILE] = certificate
            files[elasticsearch_tls.KIBANA_KEY_FILE] = key
        health = kibana.health_command(tls=self.tls is not None)
        return dict(
            secrets=self.secrets(files, owner=kibana_yml.KIBANA_UID),
            healthcheck=slow_start_healthcheck(health, **kibana.HEALTH_TIMING),
            constraints=[STATE_CONSTRAINT],
            endpoint=host_ports((KIBANA_PORT, args.port)),
        )

    def outputs(self, args: KibanaArgs) -> dict:
        direct_url = f"{self.scheme}://{self.state_host}:{args.port}{KIBANA_SUB_PATH}"
        ca = args.elasticsearch_ca if self.tls else None
        kibana.import_objects(self, self.name, args, direct_url, ca_certificate=ca)
        return {"url": self.url, "direct_url": direct_url}
