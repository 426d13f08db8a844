"""Logstash: GELF from Docker's log driver in, ECS documents out to Elasticsearch.

The GELF input is published on the bind address (127.0.0.1:12201/udp) because the Docker
daemon, on the host, is what sends the function containers' output there. A persisted queue on
a named volume keeps accepted events across a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from stack.configs import elasticsearch_template, logstash_alerts, logstash_conf
from stack.configs.logstash_health import command as health_command
from stack.containers import PartArgs, PartComponent, slow_start_healthcheck, upload
from stack.settings import LOGSTASH_GELF_PORT, PORTS, LabSettings


@dataclass(kw_only=True)
class LogstashArgs(PartArgs):
    elasticsearch_url: str
    heap: str = LabSettings.logstash_heap
    gelf_port: int = PORTS["gelf"]
    # Alertmanager's webhook on an HTTP input, into the alerts index (logstash_alerts.py).
    alerts: bool = False


class Logstash(PartComponent):
    PART = "logstash"

    def container_arguments(self, args: LogstashArgs) -> dict:
        return dict(
            data_dir=logstash_conf.DATA_DIR,
            envs=[f"LS_JAVA_OPTS=-Xms{args.heap} -Xmx{args.heap}"],
            uploads=[
                upload(logstash_conf.SETTINGS_FILE, logstash_conf.settings()),
                upload(
                    logstash_conf.PIPELINE_FILE,
                    logstash_conf.pipeline(
                        elasticsearch_url=args.elasticsearch_url, alerts=args.alerts
                    ),
                ),
                upload(logstash_conf.TEMPLATE_FILE, elasticsearch_template.render()),
                *(
                    [upload(logstash_alerts.TEMPLATE_FILE, logstash_alerts.render_template())]
                    if args.alerts
                    else []
                ),
            ],
            ports=[args.placement.publish(LOGSTASH_GELF_PORT, args.gelf_port, protocol="udp")],
            # Not `GET /`: that answers 200 before the pipeline runs (logstash_health.py).
            health=slow_start_healthcheck(health_command()),
            # The function replicas start after this, so their start-up lines are not lost.
            wait_timeout=300,
        )

    def outputs(self, name: str, args: LogstashArgs) -> dict:
        # Seen from the Docker daemon on the host, not from the lab network.
        self.gelf_address = f"udp://{args.placement.client_host}:{args.gelf_port}"
        # Where Alertmanager posts, on the lab network (None without the HTTP input).
        self.alerts_webhook_url = logstash_alerts.webhook_url() if args.alerts else None
        return {"gelf_address": self.gelf_address}
