"""Prometheus' scrape config: itself, Traefik, and one job per function named after it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import yaml

CONFIG_FILE = "/etc/prometheus/prometheus.yml"
RULES_FILE = "/etc/prometheus/rules/lab.rules.yml"
# How often DNS service discovery looks again: a rescheduled task is scraped within this.
DNS_REFRESH = "5s"
# Exemplars (the trace id of one observation per histogram bucket, docs/tracing.md) are kept
# only with this feature on (Prometheus 2.42 cmd/prometheus/main.go: "exemplar-storage"), in
# a circular buffer of this many exemplars for all series (config.go ExemplarsConfig; 100000
# is its default, stated so the size is visible): about 80 bucket series of the functions,
# each scrape adds at most one new exemplar per series, so it holds the last hour or more.
FEATURE_FLAGS = ("--enable-feature=exemplar-storage",)
MAX_EXEMPLARS = 100_000


def render(
    *,
    function_targets: Mapping[str, Sequence[str]],
    traefik_target: str,
    self_target: str,
    rule_files: Sequence[str] = (),
    scrape_interval: str = "5s",
    discovery: str = "static",
    alertmanager_url: str | None = None,
    extra_jobs: Sequence[Mapping] = (),
    client_auth: Mapping[str, str] | None = None,
) -> str:
    """The whole `prometheus.yml`; the job names are what the dashboards match on.

    `discovery="dns"` reads each function's targets as `name:port` to look up (A records,
    e.g. Swarm's `tasks.<service>`), so a rescheduled task is scraped at its new address.

    `alertmanager_url` (e.g. `http://alertmanager:9093/alertmanager`) is where alerts are sent;
    `extra_jobs` are appended as they are (the probe and node-exporter jobs).
    `client_auth` (a `basic_auth` block) is how Prometheus signs in to itself and to
    Alertmanager when both serve behind their web config's login (web_config.py).
    """
    own_login = {"basic_auth": dict(client_auth)} if client_auth else {}
    jobs = [
        {"job_name": "prometheus", "static_configs": [{"targets": [self_target]}], **own_login},
        {"job_name": "traefik", "static_configs": [{"targets": [traefik_target]}]},
    ]
    for function, targets in function_targets.items():
        jobs.append({"job_name": function, **_function_targets(targets, discovery)})
    document: dict = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "storage": {"exemplars": {"max_exemplars": MAX_EXEMPLARS}},
    }
    if rule_files:
        document["rule_files"] = list(rule_files)
    if alertmanager_url:
        document["alerting"] = {"alertmanagers": [{**_alertmanager(alertmanager_url), **own_login}]}
    document["scrape_configs"] = jobs + [dict(job) for job in extra_jobs]
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


def service_job(name: str, metrics_path: str, targets: Sequence[str], discovery: str) -> dict:
    """A user's own service (lab:services) with metrics: a job named after it, its replicas
    found as a function's are."""
    return {"job_name": name, "metrics_path": metrics_path, **_function_targets(targets, discovery)}


def _function_targets(targets: Sequence[str], discovery: str) -> dict:
    if discovery == "static":
        return {"static_configs": [{"targets": list(targets)}]}
    if discovery != "dns":
        raise ValueError(f"discovery must be static or dns, not {discovery!r}")
    return {
        "dns_sd_configs": [
            {"names": [name], "type": "A", "port": int(port), "refresh_interval": DNS_REFRESH}
            for name, port in (target.rsplit(":", 1) for target in targets)
        ]
    }


def _alertmanager(url: str) -> dict:
    parts = urlsplit(url)
    found: dict = {"static_configs": [{"targets": [parts.netloc]}]}
    if parts.path.strip("/"):
        found["path_prefix"] = parts.path
    return found
