"""Logstash: GELF from Docker's log driver in, ECS documents out to Elasticsearch.

The GELF input (TCP, stack/log_shipping.py) is published on the bind address (127.0.0.1:12201)
because the Docker daemon, on the host, is what sends the function containers' output there. A
persisted queue and the dead-letter queue on a named volume keep accepted events across a
restart. It writes as the Logstash writer user, whose password is in the pipeline file (Logstash
has no file form for it), uploaded 0400 for uid 1000. Its monitoring API asks a login
(stack/configs/logstash_api.py), whose password `logstash.yml` holds: a 0400 secret as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from stack import elasticsearch_tls as es_tls
from stack.configs import alertmanager_yaml, logstash_alerts, logstash_api, logstash_conf
from stack.configs import elasticsearch_security as es_security
from stack.configs.logstash_health import command as health_command
from stack.containers import (
    PartArgs,
    PartComponent,
    curl_login,
    secret_upload,
    slow_start_healthcheck,
    upload,
)
from stack.log_shipping import gelf_address
from stack.settings import LOGSTASH_GELF_PORT, PORTS, LabSettings


@dataclass(kw_only=True)
class LogstashArgs(PartArgs):
    elasticsearch_url: str
    heap: str = LabSettings.logstash_heap
    gelf_port: int = PORTS["gelf"]
    # Alertmanager's webhook on an HTTP input, into the alerts index (logstash_alerts.py).
    alerts: bool = False
    writer_password: pulumi.Input[str]  # es_security.LOGSTASH_WRITER_USER's
    api_password: pulumi.Input[str]  # logstash_api.USER's, the monitoring API's login
    # The lab's CA (PEM) when Elasticsearch serves HTTPS (Swarm: stack/elasticsearch_tls.py).
    elasticsearch_ca: pulumi.Input[str] | None = None
    # The login the alerts' HTTP input asks of Alertmanager (alertmanager_yaml.WEBHOOK_USER).
    webhook_password: pulumi.Input[str] | None = None


LOGSTASH_UID = "1000"  # the image's user (Logstash's Dockerfile)


def config_files(args: LogstashArgs) -> dict[str, str]:
    """Logstash's files without a password: the list of pipelines (the index templates are
    the security setup step's, stack/elasticsearch.py index_templates())."""
    return {logstash_conf.PIPELINES_FILE: logstash_conf.pipelines(alerts=args.alerts)}


def secret_files(args: LogstashArgs) -> dict[str, pulumi.Output[str]]:
    """The files that hold a password, by path: `logstash.yml` (the API's login), the health
    check's curl config (the same login) and the pipelines (the writer's password: Logstash
    has no file form for an output's password; the alerts pipeline only with `args.alerts`)."""
    api = pulumi.Output.from_input(args.api_password)
    writer = pulumi.Output.from_input(args.writer_password).apply(
        lambda password: (es_security.LOGSTASH_WRITER_USER, password)
    )
    url = args.elasticsearch_url
    ca_file = es_tls.CLIENT_CA_FILE if args.elasticsearch_ca else None
    files = {
        logstash_conf.SETTINGS_FILE: api.apply(
            lambda password: logstash_conf.settings(api_password=password)
        ),
        logstash_api.CURL_CONFIG_FILE: api.apply(
            lambda password: curl_login(logstash_api.USER, password)
        ),
        logstash_conf.PIPELINE_FILE: writer.apply(
            lambda login: logstash_conf.pipeline(
                elasticsearch_url=url, writer=login, ca_file=ca_file
            )
        ),
    }
    if args.alerts:
        files[logstash_conf.ALERTS_PIPELINE_FILE] = pulumi.Output.all(
            writer, args.webhook_password
        ).apply(
            lambda values: logstash_conf.alerts_pipeline(
                elasticsearch_url=url,
                writer=values[0],
                webhook=None if values[1] is None else (alertmanager_yaml.WEBHOOK_USER, values[1]),
                ca_file=ca_file,
            )
        )
    return files


class Logstash(PartComponent):
    PART = "logstash"

    def container_arguments(self, args: LogstashArgs) -> dict:
        return dict(
            data_dir=logstash_conf.DATA_DIR,
            envs=[f"LS_JAVA_OPTS=-Xms{args.heap} -Xmx{args.heap}"],
            uploads=[
                *(
                    secret_upload(path, text, owner=LOGSTASH_UID)
                    for path, text in secret_files(args).items()
                ),
                *es_tls.ca_uploads(args.elasticsearch_ca, owner=LOGSTASH_UID),
                *(upload(path, text) for path, text in config_files(args).items()),
            ],
            ports=[args.placement.publish(LOGSTASH_GELF_PORT, args.gelf_port)],
            # Not `GET /`: that answers 200 before the pipeline runs (logstash_health.py).
            health=slow_start_healthcheck(health_command()),
            # The function replicas start after this, so their start-up lines are not lost.
            wait_timeout=300,
        )

    def outputs(self, name: str, args: LogstashArgs) -> dict:
        # Seen from the Docker daemon on the host, not from the lab network.
        self.gelf_address = gelf_address(args.placement.client_host, args.gelf_port)
        # Where Alertmanager posts, on the lab network (None without the HTTP input).
        self.alerts_webhook_url = logstash_alerts.webhook_url() if args.alerts else None
        self.api_password = args.api_password  # for the exporter and the probe
        return {"gelf_address": self.gelf_address}
