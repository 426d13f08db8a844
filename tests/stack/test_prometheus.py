"""stack/prometheus.py: every replica scraped, the rules loaded, samples on a volume."""

from __future__ import annotations

import subprocess

import yaml

from app.contract import FUNCTIONS
from tests.stack.captured import (
    PARTS,
    VOLUME,
    by_type,
    containers,
    declared_under,
    replicas,
    upload,
)
from tests.support.capture import capture


def test_prometheus_scrapes_every_replica_with_rules_and_a_volume(declared):
    if "prometheus" not in PARTS[declared["config_name"]]:
        assert "lab-dev-prometheus" not in containers(declared)
        assert declared["outputs"]["prometheus_url"] is None
        return
    prometheus = containers(declared)["lab-dev-prometheus"]
    config = yaml.safe_load(upload(prometheus, "/etc/prometheus/prometheus.yml"))
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    for function in FUNCTIONS:
        assert jobs[function] == [f"{function}-{i}:8080" for i in range(1, replicas(declared) + 1)]
    assert jobs["traefik"] == ["traefik:8080"]
    rules = yaml.safe_load(upload(prometheus, "/etc/prometheus/rules/lab.rules.yml"))
    assert rules["groups"][0]["rules"], prometheus["urn"]
    assert "--storage.tsdb.retention.time=7d" in prometheus["inputs"]["command"]
    # Exemplars are stored only with this feature (Prometheus 2.42 --help: exemplar-storage),
    # in a buffer sized by the config file (config.ExemplarsConfig max_exemplars).
    assert "--enable-feature=exemplar-storage" in prometheus["inputs"]["command"]
    assert config["storage"]["exemplars"]["max_exemplars"] > 0
    (volume,) = [v for v in by_type(declared, VOLUME) if "prometheus" in v["name"]]
    assert prometheus["inputs"]["volumes"] == [
        {"containerPath": "/prometheus", "volumeName": volume["inputs"]["name"]}
    ]
    assert volume["urn"] in prometheus["dependencies"]
    # Through Traefik: no direct port unless lab:publishMonitoringPorts (issue 22).
    assert declared["outputs"]["prometheus_url"] == "http://127.0.0.1:8000/prometheus/"
    assert not prometheus["inputs"].get("ports"), prometheus["urn"]


def test_promtool_accepts_the_uploaded_prometheus_config_and_rules(promtool, tmp_path):
    prometheus = containers(declared_under("logs-off"))["lab-dev-prometheus"]
    rules = tmp_path / "lab.rules.yml"
    rules.write_text(upload(prometheus, "/etc/prometheus/rules/lab.rules.yml"))
    config = tmp_path / "prometheus.yml"
    config.write_text(
        upload(prometheus, "/etc/prometheus/prometheus.yml").replace(
            "/etc/prometheus/rules/lab.rules.yml", str(rules)
        )
    )
    for args in (["check", "rules", str(rules)], ["check", "config", str(config)]):
        result = subprocess.run(
            [promtool, *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, f"promtool {args}: {result.stdout}{result.stderr}"
        assert "SUCCESS" in result.stdout + result.stderr


def test_the_lifecycle_api_opens_only_when_config_asks():
    """Off by default (tests/stack/test_exposure.py); lab:lifecycle turns it on, nothing else."""
    command = containers(capture({"lab:lifecycle": True}))["lab-dev-prometheus"]["inputs"][
        "command"
    ]
    assert "--web.enable-lifecycle" in command


def _port(address: str) -> str:
    return address.rsplit(":", 1)[1]


def test_prometheus_scrapes_itself_and_traefik_where_they_listen():
    """Prometheus serves /metrics on --web.listen-address, default "0.0.0.0:9090"
    (prometheus/prometheus v3.5.0 cmd/prometheus/main.go, the web.listen-address flag);
    Traefik serves /metrics on the entrypoint its static file names under
    metrics.prometheus.entryPoint (traefik/traefik pkg/types/metrics.go, Prometheus). A
    scrape target on another port is `up == 0` for good, which no non-live test saw."""
    declared = declared_under("default")
    prometheus = containers(declared)["lab-dev-prometheus"]
    config = yaml.safe_load(upload(prometheus, "/etc/prometheus/prometheus.yml"))
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    listen = [
        arg.split("=", 1)[1]
        for arg in prometheus["inputs"]["command"]
        if arg.startswith("--web.listen-address=")
    ]
    (self_target,) = jobs["prometheus"]
    assert _port(self_target) == _port(listen[-1] if listen else "0.0.0.0:9090"), self_target
    traefik = containers(declared)["lab-dev-traefik"]
    static = yaml.safe_load(upload(traefik, "/etc/traefik/traefik.yml"))
    metrics_entrypoint = static["metrics"]["prometheus"].get("entryPoint", "traefik")
    (traefik_target,) = jobs["traefik"]
    assert _port(traefik_target) == _port(static["entryPoints"][metrics_entrypoint]["address"])
