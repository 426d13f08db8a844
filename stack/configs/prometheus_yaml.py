"""Prometheus' scrape config: itself, Traefik, and one job per function named after it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import yaml

CONFIG_FILE = "/etc/prometheus/prometheus.yml"
RULES_FILE = "/etc/prometheus/rules/lab.rules.yml"


def render(
    *,
    function_targets: Mapping[str, Sequence[str]],
    traefik_target: str,
    self_target: str,
    rule_files: Sequence[str] = (),
    scrape_interval: str = "5s",
) -> str:
    """The whole `prometheus.yml`; the job names are what the dashboards match on."""
    jobs = [
        {"job_name": "prometheus", "static_configs": [{"targets": [self_target]}]},
        {"job_name": "traefik", "static_configs": [{"targets": [traefik_target]}]},
    ]
    for function, targets in function_targets.items():
        jobs.append({"job_name": function, "static_configs": [{"targets": list(targets)}]})
    document: dict = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval}
    }
    if rule_files:
        document["rule_files"] = list(rule_files)
    document["scrape_configs"] = jobs
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
