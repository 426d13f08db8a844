"""The monitoring parts, wired from the settings: Alertmanager (`lab:alerting`), the blackbox
probes (`lab:probes`), node-exporter (`lab:host`) and, with `lab:logs`, the Elasticsearch
exporter; and what Prometheus needs to use them (where to send alerts, the extra scrape jobs).
Every part needs `lab:metrics`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dashboards.prometheus_rules import TRAEFIK_DOWN
from stack import elasticsearch_tls as es_tls
from stack import node_exporter
from stack.alertmanager import Alertmanager, AlertmanagerArgs
from stack.blackbox import (
    ELASTICSEARCH_PASSWORD_FILE,
    LOGSTASH_PASSWORD_FILE,
    MONITORING_PASSWORD_FILE,
    Blackbox,
    BlackboxArgs,
)
from stack.configs import alertmanager_yaml, blackbox_yaml, logstash_api, web_config
from stack.configs import elasticsearch_tls as tls
from stack.containers import Placement
from stack.elasticsearch_exporter import ElasticsearchExporter, ElasticsearchExporterArgs
from stack.logstash_exporter import LogstashExporter, LogstashExporterArgs
from stack.node_exporter import NodeExporter, NodeExporterArgs
from stack.settings import (
    ELASTICSEARCH_PORT,
    GRAFANA_PORT,
    GRAFANA_SUB_PATH,
    KIBANA_PORT,
    KIBANA_SUB_PATH,
    LOGSTASH_API_PORT,
    PROMETHEUS_PORT,
    TRAEFIK_API_PORT,
    TRAEFIK_WEB_PORT,
    LabSettings,
)

NODE_JOB = node_exporter.JOB
# Each monitoring part's component on one Docker host.
CONTAINERS: Mapping[str, type] = {
    "elasticsearch_exporter": ElasticsearchExporter,
    "logstash_exporter": LogstashExporter,
    "alertmanager": Alertmanager,
    "blackbox": Blackbox,
    "node_exporter": NodeExporter,
}


@dataclass
class Monitoring:
    """What Prometheus is given: PrometheusArgs(alertmanager_url=..., extra_jobs=...)."""

    alertmanager_url: str | None = None
    extra_jobs: list[dict[str, Any]] = field(default_factory=list)
    alertmanager: Alertmanager | None = None


def part_urls(settings: LabSettings) -> dict[str, str]:
    """Each running part's base URL on the lab network, for its health probe."""
    urls = {
        "traefik": f"http://traefik:{TRAEFIK_API_PORT}",
        "prometheus": f"http://prometheus:{PROMETHEUS_PORT}",
    }
    if settings.grafana_on:
        urls["grafana"] = f"http://grafana:{GRAFANA_PORT}{GRAFANA_SUB_PATH}"
    if settings.logs:
        scheme = "https" if tls.enabled(settings) else "http"
        urls["elasticsearch"] = f"{scheme}://elasticsearch:{ELASTICSEARCH_PORT}"
        urls["kibana"] = f"{scheme}://kibana:{KIBANA_PORT}{KIBANA_SUB_PATH}"
        urls["logstash"] = f"http://logstash:{LOGSTASH_API_PORT}"
    return urls


def declare(
    name: str,
    placement: Placement,
    settings: LabSettings,
    *,
    webhook_url: str | None,
    alertmanager_public_url: str | None = None,
    elasticsearch: Any = None,
    logstash: Any = None,
    app_image: Any = None,
    classes: Mapping[str, type] | None = None,
    receiver_secrets: Mapping[str, Any] | None = None,
    web_login: Mapping[str, Any] | None = None,
    webhook_password: Any = None,
) -> Monitoring:
    """The parts the switches turn on; nothing when `lab:metrics` is off. With `lab:logs`,
    `elasticsearch` and `logstash` (the components) are watched by their exporters, the
    Logstash one running from `app_image` (the lab's own image name). `classes` maps each
    part to the component declaring it (CONTAINERS here; stack/swarm_monitoring.py passes
    its services), with the same Args either way. `receiver_secrets` maps each
    lab:alertReceivers name to its secret (a Pulumi Output). `web_login` (admin_password,
    monitoring_password, hash_salt) puts Alertmanager behind its own login and signs the
    Prometheus probe in (stack/configs/web_config.py)."""
    web_login = dict(web_login or {})
    part = {**CONTAINERS, **(classes or {})}
    found = Monitoring()
    if not settings.metrics:
        return found
    if elasticsearch is not None:
        exporter = part["elasticsearch_exporter"](
            f"{name}-elasticsearch-exporter",
            ElasticsearchExporterArgs.for_part(
                placement,
                settings,
                "elasticsearch_exporter",
                elasticsearch_url=elasticsearch.internal_url,
                username=elasticsearch.monitor_user,
                password=elasticsearch.monitor_password,
                ca_certificate=elasticsearch.ca_certificate,
                # The security step creates its login: before it, the first cluster-info call
                # fails and the next comes 5 minutes later (cluster="unknown_cluster" until then).
                depends_on=list(elasticsearch.ready),
            ),
        )
        found.extra_jobs.append(exporter.scrape_job())
    if logstash is not None:
        logstash_exporter = part["logstash_exporter"](
            f"{name}-logstash-exporter",
            LogstashExporterArgs(
                placement=placement,
                image=app_image,
                memory_mb=settings.memory_mb["logstash_exporter"],
                api_password=logstash.api_password,
                depends_on=[logstash.container],
            ),
        )
        found.extra_jobs.append(logstash_exporter.scrape_job())
    if settings.alerting:
        # Logstash's HTTP input asks for a login: the webhook signs in from a password file.
        webhook_login = (
            (alertmanager_yaml.WEBHOOK_USER, alertmanager_yaml.WEBHOOK_PASSWORD_FILE)
            if webhook_url and webhook_password is not None
            else None
        )
        found.alertmanager = part["alertmanager"](
            f"{name}-alertmanager",
            AlertmanagerArgs.for_part(
                placement,
                settings,
                "alertmanager",
                config=alertmanager_yaml.render(
                    traefik_down_alert=TRAEFIK_DOWN,
                    webhook_url=webhook_url,
                    extra_receivers=[r.receiver() for r in settings.alert_receivers],
                    webhook_login=webhook_login,
                    **settings.alert_timing,
                ),
                webhook_password=webhook_password if webhook_login else None,
                public_url=alertmanager_public_url,
                receiver_files={
                    r.secret_file: (receiver_secrets or {})[r.name]
                    for r in settings.alert_receivers
                    if r.secret_file
                },
                publish=settings.publish_monitoring_ports,
                **web_login,
            ),
        )
        found.alertmanager_url = found.alertmanager.internal_url
    if settings.probes:
        parts = part_urls(settings)
        # On Swarm the Elasticsearch probe verifies HTTPS with the lab's CA.
        ca_certificate = elasticsearch.ca_certificate if elasticsearch is not None else None
        tls_parts = ("elasticsearch", "kibana")  # Kibana's port is HTTPS there too
        ca_files = {part: es_tls.CLIENT_CA_FILE for part in tls_parts} if ca_certificate else {}
        # Elasticsearch answers nobody without a login: its probe signs in as the monitoring
        # user (cluster `monitor` covers /_cluster/health), never as `elastic`.
        auth, password_files = {}, {}
        if elasticsearch is not None:
            auth["elasticsearch"] = blackbox_yaml.BasicAuth(
                elasticsearch.monitor_user, ELASTICSEARCH_PASSWORD_FILE
            )
            password_files[ELASTICSEARCH_PASSWORD_FILE] = elasticsearch.monitor_password
        if logstash is not None:
            # Logstash's API asks its own login (stack/configs/logstash_api.py).
            auth["logstash"] = blackbox_yaml.BasicAuth(logstash_api.USER, LOGSTASH_PASSWORD_FILE)
            password_files[LOGSTASH_PASSWORD_FILE] = logstash.api_password
        if web_login:
            # Prometheus answers its health path only to a login too.
            auth["prometheus"] = blackbox_yaml.BasicAuth(
                web_config.MONITORING_USER, MONITORING_PASSWORD_FILE
            )
            password_files[MONITORING_PASSWORD_FILE] = web_login["monitoring_password"]
        blackbox = part["blackbox"](
            f"{name}-blackbox",
            BlackboxArgs.for_part(
                placement,
                settings,
                "blackbox",
                config=blackbox_yaml.render(
                    parts=tuple(parts),
                    own_services=bool(settings.services),
                    ca_files=ca_files,
                    basic_auth=auth,
                ),
                ca_certificate=ca_certificate,
                password_files=password_files,
            ),
        )
        found.extra_jobs += blackbox_yaml.scrape_jobs(
            exporter=blackbox.address,
            api_url=f"http://traefik:{TRAEFIK_WEB_PORT}",
            part_urls=parts,
            service_paths={entry.name: entry.probe_path for entry in settings.services},
        )
    if settings.host:
        node = part["node_exporter"](
            f"{name}-node-exporter",
            NodeExporterArgs.for_part(placement, settings, "node_exporter"),
        )
        found.extra_jobs.append(node.scrape_job())
    return found
