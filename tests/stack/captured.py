"""The program's declarations under the configs the stack tests share, captured once each."""

from __future__ import annotations

import functools

import yaml

from stack.settings import LabSettings
from tests.support.capture import capture

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
DYNAMIC = "pulumi-python:dynamic:Resource"
CONFIGS = {
    "default": {},
    "metrics-off": {"lab:metrics": False},
    "logs-off": {"lab:logs": False},
    "grafana-off": {"lab:grafana": False},
    "three-replicas": {"lab:replicas": 3},
}
# Alertmanager, the blackbox exporter and node-exporter run with metrics (stack/monitoring.py).
MONITORING = {"alertmanager", "blackbox", "node_exporter"}
EVERY_PART = {
    "traefik",
    "prometheus",
    "grafana",
    "elasticsearch",
    "logstash",
    "kibana",
    "elasticsearch_exporter",  # metrics and logs both on
    "logstash_exporter",
    *MONITORING,
}
# Which parts each config runs (besides the function replicas, which always run).
PARTS = {
    "default": EVERY_PART,
    "metrics-off": {"traefik", "elasticsearch", "logstash", "kibana"},
    "logs-off": {"traefik", "prometheus", "grafana", *MONITORING},
    "grafana-off": EVERY_PART - {"grafana"},
    "three-replicas": EVERY_PART,
}


@functools.cache
def declared_under(config_name: str) -> dict:
    """One capture per config per session, whichever test module asks first."""
    result = capture(CONFIGS[config_name])
    result["config_name"] = config_name
    return result


def containers(result: dict) -> dict[str, dict]:
    """Declared containers by Docker name."""
    return {r["inputs"]["name"]: r for r in result["resources"] if r["type"] == CONTAINER}


def by_type(result: dict, type_token: str) -> list[dict]:
    return [r for r in result["resources"] if r["type"] == type_token]


def runs(result: dict, part: str) -> bool:
    return part in PARTS[result["config_name"]]


def replicas(result: dict) -> int:
    return {"three-replicas": 3}.get(result["config_name"], LabSettings().replicas)


def upload(container: dict, path: str) -> str:
    files = {u["file"]: u["content"] for u in container["inputs"].get("uploads", [])}
    assert path in files, f"{container['urn']}: no upload at {path} (has {sorted(files)})"
    return files[path]


def scrape_targets(found: dict, job: str) -> list[str]:
    """The targets of `job` in the Prometheus config the program uploads."""
    config = yaml.safe_load(upload(found["lab-dev-prometheus"], "/etc/prometheus/prometheus.yml"))
    jobs = {entry["job_name"]: entry for entry in config["scrape_configs"]}
    return [t for static in jobs[job]["static_configs"] for t in static["targets"]]


def part_container(declared: dict, part: str) -> tuple[dict, dict | None]:
    """Every declared container by name, and `part`'s own, or None (after checking it is not
    declared) when this config does not run it."""
    found = containers(declared)
    name = f"lab-dev-{part}"
    if not runs(declared, part):
        assert name not in found, f"{name} declared though the config does not run it"
        return found, None
    return found, found[name]


def declared_api_login(result: dict) -> tuple[str, str]:
    """The login Logstash's API asks, read as Logstash reads it: `api.auth.basic.username` and
    `.password` of the declared logstash.yml upload, with `api.auth.type: basic`
    (elastic/logstash v8.19.4 logstash-core/lib/logstash/webserver.rb)."""
    (logstash,) = (c for name, c in containers(result).items() if name.endswith("-logstash"))
    settings = yaml.safe_load(upload(logstash, "/usr/share/logstash/config/logstash.yml"))
    assert settings.get("api.auth.type") == "basic", settings.get("api.auth.type")
    return settings["api.auth.basic.username"], settings["api.auth.basic.password"]
