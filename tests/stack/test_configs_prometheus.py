"""stack/configs/prometheus_yaml.py: one job per function with every replica; promtool agrees."""

import subprocess

import yaml

from app.contract import FUNCTIONS
from stack.configs import prometheus_yaml


def _prometheus(rule_files=()):
    return prometheus_yaml.render(
        function_targets={f: [f"{f}-1:8080", f"{f}-2:8080"] for f in FUNCTIONS},
        traefik_target="traefik:8080",
        self_target="localhost:9090",
        rule_files=rule_files,
    )


def test_prometheus_config_has_one_job_per_function_with_every_replica():
    config = yaml.safe_load(_prometheus())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "traefik", *FUNCTIONS}
    for function in FUNCTIONS:
        assert jobs[function]["static_configs"] == [
            {"targets": [f"{function}-1:8080", f"{function}-2:8080"]}
        ]
    assert jobs["traefik"]["static_configs"] == [{"targets": ["traefik:8080"]}]
    assert "rule_files" not in config


def _check_config(promtool: str, path) -> subprocess.CompletedProcess:
    command = [promtool, "check", "config", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_accepts_the_prometheus_config_and_its_rule_file(promtool, tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n- name: lab\n  rules:\n  - alert: LabTargetDown\n    expr: up == 0\n    for: 1m\n"
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(_prometheus(rule_files=[str(rules)]))
    result = _check_config(promtool, config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_rejects_a_broken_config(promtool, tmp_path):
    """Proves the check above can fail."""
    broken = tmp_path / "broken.yml"
    broken.write_text(_prometheus().replace("scrape_interval: 5s", "scrape_interval: fast"))
    assert _check_config(promtool, broken).returncode != 0
