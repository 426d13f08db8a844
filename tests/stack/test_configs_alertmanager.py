"""stack/configs/alertmanager_yaml.py: amtool accepts the config and routes as intended, with
Alertmanager's own timing rules (test_configs_alertmanager_delivery.py runs it in a real
Alertmanager)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from dashboards.prometheus_rules import seconds
from stack.configs import alertmanager_yaml, blackbox_yaml
from stack.configs.alertmanager_yaml import DISCARD_RECEIVER, WEBHOOK_RECEIVER, Receiver
from tests.conftest import require_binary

# The rules' names (dashboards/prometheus_rules.py); the renderer takes the inhibiting one as
# an argument. Per-function alerts carry a `function` label, the Traefik-down alert none.
TRAEFIK_DOWN = "LabTraefikDown"
WEBHOOK_URL = "http://logstash:8088/alertmanager"
MAIL = Receiver(
    name="mail",
    settings={
        "email_configs": [
            {
                "to": "oncall@example.org",
                "from": "lab@example.org",
                "smarthost": "mail.example.org:587",
                "auth_username": "lab",
                "auth_password_file": "/run/secrets/smtp-password",
            }
        ]
    },
    matchers=('severity="page"',),
)
CHAT = Receiver(
    name="chat",
    settings={"slack_configs": [{"api_url_file": "/run/secrets/chat-hook", "channel": "#lab"}]},
)


@pytest.fixture(scope="session")
def amtool() -> str:
    return require_binary("amtool")


def write_config(tmp_path: Path, **overrides) -> Path:
    arguments = {"traefik_down_alert": TRAEFIK_DOWN, "webhook_url": WEBHOOK_URL, **overrides}
    path = tmp_path / "alertmanager.yml"
    path.write_text(alertmanager_yaml.render(**arguments))
    return path


def run_amtool(amtool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([amtool, *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"webhook_url": None}, {"extra_receivers": [MAIL, CHAT]}],
    ids=["webhook", "logs-off", "mail-and-chat"],
)
def test_amtool_accepts_the_rendered_config(amtool, tmp_path, overrides):
    result = run_amtool(amtool, "check-config", str(write_config(tmp_path, **overrides)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_amtool_rejects_a_broken_config(amtool, tmp_path):
    """Proves the check above can fail."""
    result = run_amtool(amtool, "check-config", str(write_config(tmp_path, group_wait="soon")))
    assert result.returncode != 0, result.stdout + result.stderr


def test_alerts_are_grouped_by_alert_and_function_with_the_given_timing():
    config = yaml.safe_load(
        alertmanager_yaml.render(
            traefik_down_alert=TRAEFIK_DOWN, webhook_url=WEBHOOK_URL, group_wait="5s"
        )
    )
    route = config["route"]
    assert route["group_by"] == ["alertname", "function"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        "5s",
        "5m",
        "4h",
    )
    assert config["global"]["resolve_timeout"] == "5m"
    default = yaml.safe_load(
        alertmanager_yaml.render(traefik_down_alert=TRAEFIK_DOWN, webhook_url=WEBHOOK_URL)
    )
    rendered = {key: default["route"].get(key) for key in alertmanager_yaml.TIMING}
    rendered["resolve_timeout"] = default["global"]["resolve_timeout"]
    assert rendered == dict(alertmanager_yaml.TIMING)
    (webhook,) = next(r for r in config["receivers"] if r["name"] == WEBHOOK_RECEIVER)[
        "webhook_configs"
    ]
    assert webhook == {"url": WEBHOOK_URL, "send_resolved": True, "max_alerts": 0}


def test_default_timing_is_alertmanagers_own_but_a_shorter_group_wait():
    """prometheus/alertmanager v0.28.1 dispatch/route.go DefaultRouteOpts (group_wait 30s,
    group_interval 5m, repeat_interval 4h) and config/config.go DefaultGlobalConfig
    (resolve_timeout 5m): the lab keeps them, but for a group_wait short enough that a
    notification can follow a fault within the drills' 25 s goal."""
    timing = dict(alertmanager_yaml.TIMING)
    assert seconds(timing.pop("group_wait")) < 30
    assert timing == {"group_interval": "5m", "repeat_interval": "4h", "resolve_timeout": "5m"}


@pytest.mark.parametrize("key", ["group_interval", "repeat_interval"])
def test_a_zero_interval_is_refused_as_alertmanager_does(amtool, tmp_path, key):
    """prometheus/alertmanager v0.28.1 config/config.go Route.UnmarshalYAML: "group_interval
    cannot be zero", "repeat_interval cannot be zero"; render refuses it before amtool would."""
    with pytest.raises(ValueError, match=key):
        alertmanager_yaml.render(traefik_down_alert=TRAEFIK_DOWN, webhook_url=None, **{key: "0s"})
    config = yaml.safe_load(write_config(tmp_path).read_text())
    config["route"][key] = "0s"
    (tmp_path / "zero.yml").write_text(yaml.safe_dump(config))
    result = run_amtool(amtool, "check-config", str(tmp_path / "zero.yml"))
    assert result.returncode != 0, result.stdout + result.stderr
    assert "cannot be zero" in result.stdout + result.stderr


def test_unknown_timing_keys_are_refused():
    with pytest.raises(ValueError, match="group_waits"):
        alertmanager_yaml.check_timing({"group_waits": "1s"})


def test_the_traefik_probe_inhibited_is_the_one_the_probe_jobs_label(tmp_path):
    """The Traefik-down inhibition names Traefik's health probe by the labels blackbox_yaml
    gives it, so a renamed part or label cannot silently stop the inhibition."""
    jobs = blackbox_yaml.scrape_jobs(
        exporter="blackbox:9115",
        api_url="http://traefik:8000",
        part_urls={"traefik": "http://traefik:8080", "prometheus": "http://prometheus:9090"},
    )
    labelled = [
        target["labels"]
        for job in jobs
        for target in job["static_configs"]
        if target["labels"].get(blackbox_yaml.PART_LABEL) == alertmanager_yaml.TRAEFIK_PART
    ]
    assert labelled, jobs
    config = yaml.safe_load(write_config(tmp_path).read_text())
    targets = [rule["target_matchers"] for rule in config["inhibit_rules"]]
    assert [f'{blackbox_yaml.PART_LABEL}="{alertmanager_yaml.TRAEFIK_PART}"'] in targets


def test_receiver_names_must_not_clash():
    with pytest.raises(ValueError, match=WEBHOOK_RECEIVER):
        alertmanager_yaml.render(
            traefik_down_alert=TRAEFIK_DOWN,
            webhook_url=WEBHOOK_URL,
            extra_receivers=[Receiver(name=WEBHOOK_RECEIVER, settings={})],
        )


@pytest.mark.parametrize(
    ("overrides", "labels", "receivers"),
    [
        ({}, ["alertname=LabHighErrorRatio", "function=fibonacci"], WEBHOOK_RECEIVER),
        ({}, [f"alertname={TRAEFIK_DOWN}", "severity=page"], WEBHOOK_RECEIVER),
        ({"webhook_url": None}, ["alertname=LabSlowCalls", "function=ackermann"], DISCARD_RECEIVER),
        (
            {"extra_receivers": [MAIL, CHAT]},
            ["alertname=LabTargetDown", "function=factorial", "severity=page"],
            f"{WEBHOOK_RECEIVER},mail,chat",
        ),
        (
            {"extra_receivers": [MAIL, CHAT]},
            ["alertname=LabSlowCalls", "function=factorial", "severity=ticket"],
            f"{WEBHOOK_RECEIVER},chat",
        ),
    ],
    ids=["function-alert", "traefik-down", "logs-off", "page-to-mail", "ticket-not-to-mail"],
)
def test_amtool_routes_each_alert_to_its_receivers(amtool, tmp_path, overrides, labels, receivers):
    config = write_config(tmp_path, **overrides)
    result = run_amtool(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={config}",
        f"--verify.receivers={receivers}",
        *labels,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_route_test_fails_on_the_wrong_receiver(amtool, tmp_path):
    """Proves the routing test above can fail."""
    result = run_amtool(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={write_config(tmp_path)}",
        f"--verify.receivers={DISCARD_RECEIVER}",
        "alertname=LabHighErrorRatio",
        "function=fibonacci",
    )
    assert result.returncode != 0, result.stdout + result.stderr
