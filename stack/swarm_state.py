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

import json

import pulumi

from stack import elasticsearch as es
from stack import kibana, log_shipping
from stack.configs import elasticsearch_security as es_security
from stack.configs import (
    elasticsearch_template,
    grafana_provisioning,
    kibana_yml,
    logstash_alerts,
    logstash_conf,
)
from stack.configs.logstash_health import command as logstash_health
from stack.grafana import ADMIN_PASSWORD_FILE, GRAFANA_UID, GrafanaArgs
from stack.kibana import KibanaArgs
from stack.logstash import LogstashArgs
from stack.settings import (
    ELASTICSEARCH_PORT,
    GRAFANA_PORT,
    GRAFANA_SUB_PATH,
    KIBANA_PORT,
    KIBANA_SUB_PATH,
    LOGSTASH_GELF_PORT,
)
from stack.swarm_objects import (
    STATE_CONSTRAINT,
    file_configs,
    healthcheck,
    host_ports,
    part_service,
    secret_files,
    slow_start_healthcheck,
)

ELASTIC_UID = es.ES_UID  # Elasticsearch, Logstash and Kibana images all run as uid 1000


class SwarmGrafana(pulumi.ComponentResource):
    """Grafana on the state node, stateless as on one host (everything it shows is
    provisioned from configs), its admin password a secret file (GF_..._PASSWORD__FILE)."""

    def __init__(self, name: str, args: GrafanaArgs, opts=None) -> None:
        super().__init__("lab:swarm:Grafana", name, None, opts)
        files = {
            grafana_provisioning.DATASOURCES_FILE: grafana_provisioning.datasources(
                args.prometheus_url, args.alertmanager_url
            ),
            grafana_provisioning.PROVIDERS_FILE: grafana_provisioning.dashboard_providers(),
            **{
                f"{grafana_provisioning.DASHBOARD_DIR}/{stem}.json": json.dumps(
                    model, indent=2, sort_keys=True
                )
                for stem, model in sorted(args.dashboards.items())
            },
        }
        password = {ADMIN_PASSWORD_FILE: args.admin_password}
        self.container = part_service(
            self,
            name,
            args,
            "grafana",
            env={
                "GF_SECURITY_ADMIN_USER": "admin",
                "GF_SECURITY_ADMIN_PASSWORD__FILE": ADMIN_PASSWORD_FILE,
                "GF_AUTH_ANONYMOUS_ENABLED": "false",
                "GF_USERS_ALLOW_SIGN_UP": "false",
                "GF_AUTH_DISABLE_LOGIN_FORM": "false",
                "GF_SERVER_ROOT_URL": args.public_url,
                "GF_SERVER_SERVE_FROM_SUB_PATH": "true",
                "GF_ANALYTICS_REPORTING_ENABLED": "false",
                "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
                "GF_NEWS_NEWS_FEED_ENABLED": "false",
            },
            configs=file_configs(self, name, args.placement, "grafana", files, owner=GRAFANA_UID),
            secrets=secret_files(
                self, name, args.placement, "grafana", password, owner=GRAFANA_UID
            ),
            healthcheck=healthcheck(
                ["wget", "-qO-", f"http://localhost:{GRAFANA_PORT}{GRAFANA_SUB_PATH}/api/health"],
                start_period="30s",
            ),
            constraints=[STATE_CONSTRAINT],
            endpoint=host_ports((GRAFANA_PORT, args.port)),
        )
        self.url = args.public_url
        self.register_outputs({"url": self.url})


class SwarmElasticsearch(pulumi.ComponentResource):
    """One Elasticsearch node on the state node with its data volume there; the elastic
    password and the health check's curl config are secret files for uid 1000."""

    def __init__(
        self, name: str, args: es.ElasticsearchArgs, opts=None, *, state_host: str
    ) -> None:
        super().__init__("lab:swarm:Elasticsearch", name, None, opts)
        password = pulumi.Output.from_input(args.elastic_password)
        secrets = {
            es.PASSWORD_FILE: password,
            es.CURL_CONFIG_FILE: password.apply(es.curl_config),
        }
        self.container = part_service(
            self,
            name,
            args,
            "elasticsearch",
            env={
                "cluster.name": "lab",
                "node.name": "elasticsearch",
                "discovery.type": "single-node",
                "xpack.security.enabled": "true",
                "xpack.security.http.ssl.enabled": "false",
                "xpack.security.transport.ssl.enabled": "false",
                "ELASTIC_PASSWORD_FILE": es.PASSWORD_FILE,
                "xpack.ml.enabled": "false",
                "ingest.geoip.downloader.enabled": "false",
                "ES_JAVA_OPTS": f"-Xms{args.heap} -Xmx{args.heap}",
            },
            secrets=secret_files(
                self, name, args.placement, "elasticsearch", secrets, owner=ELASTIC_UID
            ),
            data_dir=es.DATA_DIR,
            healthcheck=slow_start_healthcheck(
                [
                    "curl",
                    "-fsS",
                    "-K",
                    es.CURL_CONFIG_FILE,
                    f"http://localhost:{ELASTICSEARCH_PORT}"
                    "/_cluster/health?wait_for_status=yellow&timeout=2s",
                ]
            ),
            constraints=[STATE_CONSTRAINT],
            endpoint=host_ports((ELASTICSEARCH_PORT, args.port)),
        )
        self.internal_url = f"http://elasticsearch:{ELASTICSEARCH_PORT}"
        # The published port on the state node, where Pulumi's security step signs in.
        self.url = f"http://{state_host}:{args.port}"
        es.secure(self, name, args)
        self.register_outputs({"url": self.url, "internal_url": self.internal_url})


class SwarmLogstash(pulumi.ComponentResource):
    """Logstash on the state node: its persisted queue on its volume there, its GELF input
    published in host mode there for every node's Docker daemon (`state_host`)."""

    def __init__(self, name: str, args: LogstashArgs, opts=None, *, state_host: str) -> None:
        super().__init__("lab:swarm:Logstash", name, None, opts)
        files = {
            logstash_conf.SETTINGS_FILE: logstash_conf.settings(),
            logstash_conf.TEMPLATE_FILE: elasticsearch_template.render(),
        }
        if args.alerts:
            files[logstash_alerts.TEMPLATE_FILE] = logstash_alerts.render_template()
        # The writer's password is in the pipeline file (Logstash has no file form for it), so
        # the whole pipeline is a secret, as it is a 0400 upload on one host (stack/logstash.py).
        pipeline = pulumi.Output.from_input(args.writer_password).apply(
            lambda password: logstash_conf.pipeline(
                elasticsearch_url=args.elasticsearch_url,
                alerts=args.alerts,
                writer=(es_security.LOGSTASH_WRITER_USER, password),
            )
        )
        self.container = part_service(
            self,
            name,
            args,
            "logstash",
            env={"LS_JAVA_OPTS": f"-Xms{args.heap} -Xmx{args.heap}"},
            configs=file_configs(self, name, args.placement, "logstash", files, owner=ELASTIC_UID),
            secrets=secret_files(
                self,
                name,
                args.placement,
                "logstash",
                {logstash_conf.PIPELINE_FILE: pipeline},
                owner=ELASTIC_UID,
            ),
            data_dir=logstash_conf.DATA_DIR,
            healthcheck=slow_start_healthcheck(logstash_health()),
            constraints=[STATE_CONSTRAINT],
            endpoint=host_ports(
                (LOGSTASH_GELF_PORT, args.gelf_port), protocol=log_shipping.GELF_SCHEME
            ),
        )
        # Seen from every node's Docker daemon, not from the overlay.
        self.gelf_address = log_shipping.gelf_address(state_host, args.gelf_port)
        self.alerts_webhook_url = logstash_alerts.webhook_url() if args.alerts else None
        self.register_outputs({"gelf_address": self.gelf_address})


class SwarmKibana(pulumi.ComponentResource):
    """Kibana on the state node; its saved objects imported through its published port
    there (`state_host`), from wherever Pulumi runs."""

    def __init__(self, name: str, args: KibanaArgs, opts=None, *, state_host: str) -> None:
        super().__init__("lab:swarm:Kibana", name, None, opts)
        # The whole configuration is kibana.yml, a secret (it holds kibana_system's password;
        # Kibana's image turns its environment into command-line arguments: kibana_yml.py).
        files = {kibana_yml.CONFIG_FILE: kibana.config(args)}
        self.container = part_service(
            self,
            name,
            args,
            "kibana",
            secrets=secret_files(
                self, name, args.placement, "kibana", files, owner=kibana_yml.KIBANA_UID
            ),
            healthcheck=slow_start_healthcheck(kibana.HEALTH_COMMAND, **kibana.HEALTH_TIMING),
            constraints=[STATE_CONSTRAINT],
            endpoint=host_ports((KIBANA_PORT, args.port)),
        )
        direct_url = f"http://{state_host}:{args.port}{KIBANA_SUB_PATH}"
        kibana.import_objects(self, name, args, direct_url)
        self.register_outputs({"url": self.url, "direct_url": direct_url})
