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
