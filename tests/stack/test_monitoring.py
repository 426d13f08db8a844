"""stack/monitoring.py with stack/alertmanager.py, blackbox.py, node_exporter.py: the parts the
switches turn on, what Prometheus is told about them, and the webhook into Logstash."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from app.contract import FUNCTIONS
from stack.configs import blackbox_yaml, logstash_alerts
from stack.node_exporter import HOST_MOUNTS
from tests.stack.captured import containers, declared_under, upload
from tests.support.capture import capture

MONITORING = ("lab-dev-alertmanager", "lab-dev-blackbox", "lab-dev-node_exporter")


def _prometheus_config(result: dict) -> dict:
    prometheus = containers(result)["lab-dev-prometheus"]
    return yaml.safe_load(upload(prometheus, "/etc/prometheus/prometheus.yml"))


def test_alertmanager_keeps_state_on_a_volume_and_serves_under_its_path():
    declared = declared_under("default")
    alertmanager = containers(declared)["lab-dev-alertmanager"]
    inputs = alertmanager["inputs"]
    assert "--cluster.listen-address=" in inputs["command"]
    assert "--web.route-prefix=/alertmanager" in inputs["command"]
    assert "--web.external-url=http://127.0.0.1:8000/alertmanager/" in inputs["command"]
    assert inputs["volumes"] == [
        {"containerPath": "/alertmanager", "volumeName": "lab-dev-alertmanager-data"}
    ]
    # No direct port unless lab:publishMonitoringPorts: Traefik's /alertmanager/ (issue 22).
    assert not inputs.get("ports"), alertmanager["urn"]
    assert inputs["user"] == "65534:65534"
    assert inputs["memory"] == 64
    assert declared["outputs"]["alertmanager_url"] == "http://127.0.0.1:8000/alertmanager/"


def test_prometheus_sends_alerts_and_scrapes_the_probes_and_the_host():
    config = _prometheus_config(declared_under("default"))
    (target,) = config["alerting"]["alertmanagers"]
    assert target["static_configs"] == [{"targets": ["alertmanager:9093"]}]
    assert target["path_prefix"] == "/alertmanager"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["node"]["static_configs"] == [{"targets": ["node_exporter:9100"]}]
    calls = jobs[blackbox_yaml.CALL_JOB]["static_configs"]
    assert sorted(c["labels"]["function"] for c in calls) == sorted(FUNCTIONS)
    assert all(c["targets"][0].startswith("http://traefik:8000/") for c in calls)
    parts = {c["labels"]["part"] for c in jobs[blackbox_yaml.HEALTH_JOB]["static_configs"]}
    assert parts == set(blackbox_yaml.PART_HEALTH)


def test_probes_follow_the_parts_that_run():
    config = _prometheus_config(declared_under("logs-off"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    parts = {c["labels"]["part"] for c in jobs[blackbox_yaml.HEALTH_JOB]["static_configs"]}
    assert parts == {"traefik", "prometheus", "grafana"}
    blackbox = containers(declared_under("logs-off"))["lab-dev-blackbox"]
    modules = yaml.safe_load(upload(blackbox, blackbox_yaml.CONFIG_FILE))["modules"]
    assert set(modules) == {blackbox_yaml.health_module(p) for p in parts} | {
        blackbox_yaml.call_module(f) for f in FUNCTIONS
    }
    assert not blackbox["inputs"].get("ports")
    assert blackbox["inputs"]["user"] == "65534:65534"


def test_node_exporter_reads_the_host_read_only_and_publishes_nothing():
    node = containers(declared_under("default"))["lab-dev-node_exporter"]
    volumes = {
        v["hostPath"]: (v["containerPath"], v["readOnly"]) for v in node["inputs"]["volumes"]
    }
    assert volumes == {host: (inside, True) for host, inside in HOST_MOUNTS.items()}
    assert f"--path.rootfs={HOST_MOUNTS['/']}" in node["inputs"]["command"]
    assert not node["inputs"].get("ports")


def test_the_webhook_goes_to_logstash_only_with_logs_on():
    with_logs = containers(declared_under("default"))
    config = yaml.safe_load(
        upload(with_logs["lab-dev-alertmanager"], "/etc/alertmanager/alertmanager.yml")
    )
    urls = [c["url"] for r in config["receivers"] for c in r.get("webhook_configs", [])]
    assert urls == [logstash_alerts.webhook_url()]
    pipeline = upload(with_logs["lab-dev-logstash"], "/usr/share/logstash/pipeline/alerts.conf")
    assert f"port => {logstash_alerts.PORT}" in pipeline
    without = containers(declared_under("logs-off"))
    config = yaml.safe_load(
        upload(without["lab-dev-alertmanager"], "/etc/alertmanager/alertmanager.yml")
    )
    assert not [r for r in config["receivers"] if r.get("webhook_configs")]


@pytest.mark.parametrize(
    ("switches", "absent"),
    [
        ({"lab:alerting": False}, "lab-dev-alertmanager"),
        ({"lab:probes": False}, "lab-dev-blackbox"),
        ({"lab:host": False}, "lab-dev-node_exporter"),
    ],
)
def test_each_switch_turns_off_its_part_only(switches, absent):
    result = capture(switches)
    names = set(containers(result))
    assert absent not in names
    assert set(MONITORING) - {absent} <= names
    if absent == "lab-dev-alertmanager":
        assert "alerting" not in _prometheus_config(result)
        assert result["outputs"]["alertmanager_url"] is None
        pipeline = upload(
            containers(result)["lab-dev-logstash"], "/usr/share/logstash/pipeline/logstash.conf"
        )
        assert "http {" not in pipeline


def test_amtool_accepts_the_uploaded_alertmanager_config(tmp_path):
    alertmanager = containers(declared_under("default"))["lab-dev-alertmanager"]
    path = tmp_path / "alertmanager.yml"
    path.write_text(upload(alertmanager, "/etc/alertmanager/alertmanager.yml"))
    result = subprocess.run(
        ["amtool", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
