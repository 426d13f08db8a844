"""stack/configs/alertmanager_yaml.py: amtool accepts the config and routes as intended, and a
real Alertmanager groups per alert and function, holds back per-function alerts while Traefik
is down, and delivers firing and resolved notifications to the webhook."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from lab.support import NotReady, free_port, start, stop, wait_for_http
from stack.configs import alertmanager_yaml
from stack.configs.alertmanager_yaml import DISCARD_RECEIVER, WEBHOOK_RECEIVER, Receiver
from tests.conftest import missing, require_binary

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


@pytest.fixture(scope="session")
def alertmanager_binary() -> str:
    # Debian names the binary after its package; upstream's tarball calls it alertmanager.
    for name in ("prometheus-alertmanager", "alertmanager"):
        path = shutil.which(name)
        if path:
            return path
    missing("Alertmanager is not installed (Debian: see scripts/provision.sh)")


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
    (webhook,) = next(r for r in config["receivers"] if r["name"] == WEBHOOK_RECEIVER)[
        "webhook_configs"
    ]
    assert webhook == {"url": WEBHOOK_URL, "send_resolved": True, "max_alerts": 0}


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


class Webhook:
    """A local HTTP server standing in for Logstash's HTTP input: keeps every notification."""

    def __init__(self) -> None:
        self.notifications: list[dict] = []
        self.changed = threading.Condition()
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with webhook.changed:
                    webhook.notifications.append(json.loads(body))
                    webhook.changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def wait_for(self, found: Callable[[list[dict]], bool], timeout: float = 20) -> list[dict]:
        with self.changed:
            self.changed.wait_for(lambda: found(self.notifications), timeout=timeout)
            return list(self.notifications)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    server = Webhook()
    yield server
    server.close()


@pytest.fixture
def alertmanager(alertmanager_binary, webhook, tmp_path) -> Iterator[str]:
    """A real Alertmanager on the rendered config, with timings short enough for a test."""
    config = write_config(
        tmp_path,
        webhook_url=webhook.url,
        group_wait="1s",
        group_interval="1s",
        repeat_interval="1h",
    )
    url = f"http://127.0.0.1:{free_port()}"
    argv = [
        alertmanager_binary,
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address={url.removeprefix('http://')}",
        # One instance: no gossip cluster to wait for before notifying.
        "--cluster.listen-address=",
    ]
    child = start("alertmanager", argv, tmp_path / "alertmanager.log")
    try:
        try:
            wait_for_http(f"{url}/-/ready", timeout=30, process=child.process)
        except NotReady as error:
            pytest.fail(f"{error}\n{child.log_tail()}")
        yield url
    finally:
        stop([child])


def alert(name: str, *, ended: bool = False, **labels: str) -> dict:
    """An alert as Prometheus posts it when it starts firing (startsAt is the firing time, so
    group_wait applies: Alertmanager flushes an alert older than group_wait at once); `ended`
    resolves it."""
    now = datetime.now(UTC)
    posted = {
        "labels": {"alertname": name, **labels},
        "annotations": {"summary": f"{name} {labels}"},
        "startsAt": now.isoformat(),
    }
    if ended:
        posted["endsAt"] = now.isoformat()
    return posted


def post(alertmanager: str, *alerts: dict) -> None:
    response = requests.post(f"{alertmanager}/api/v2/alerts", json=list(alerts), timeout=5)
    assert response.status_code == 200, response.text


def sent(notifications: list[dict], status: str = "firing") -> dict[tuple, list[str]]:
    """Group labels of each notification with `status` -> the instances it carried."""
    return {
        tuple(sorted(n["groupLabels"].items())): sorted(
            a["labels"]["instance"] for a in n["alerts"]
        )
        for n in notifications
        if n["status"] == status
    }


def group(name: str, function: str | None = None) -> tuple:
    labels = {"alertname": name, **({"function": function} if function else {})}
    return tuple(sorted(labels.items()))


@pytest.mark.slow
def test_alertmanager_groups_by_alert_and_function_and_sends_resolved(alertmanager, webhook):
    post(
        alertmanager,
        alert("LabTargetDown", function="fibonacci", instance="fibonacci-1:8080"),
        alert("LabTargetDown", function="fibonacci", instance="fibonacci-2:8080"),
        alert("LabTargetDown", function="factorial", instance="factorial-1:8080"),
        alert("LabSlowCalls", function="fibonacci", instance="traefik:8080"),
    )
    expected = {
        group("LabTargetDown", "fibonacci"): ["fibonacci-1:8080", "fibonacci-2:8080"],
        group("LabTargetDown", "factorial"): ["factorial-1:8080"],
        group("LabSlowCalls", "fibonacci"): ["traefik:8080"],
    }
    notifications = webhook.wait_for(lambda n: sent(n) == expected)
    assert sent(notifications) == expected
    assert {n["receiver"] for n in notifications} == {WEBHOOK_RECEIVER}

    # The replicas are back: one resolved notification for that group, naming its function.
    post(
        alertmanager,
        alert("LabTargetDown", ended=True, function="fibonacci", instance="fibonacci-1:8080"),
        alert("LabTargetDown", ended=True, function="fibonacci", instance="fibonacci-2:8080"),
    )
    resolved = {group("LabTargetDown", "fibonacci"): ["fibonacci-1:8080", "fibonacci-2:8080"]}
    notifications = webhook.wait_for(lambda n: sent(n, "resolved") == resolved)
    assert sent(notifications, "resolved") == resolved
    (last,) = [n for n in notifications if n["status"] == "resolved"]
    assert last["commonLabels"]["function"] == "fibonacci"
    assert all(a["status"] == "resolved" for a in last["alerts"])


@pytest.mark.slow
def test_traefik_down_holds_back_every_per_function_alert(alertmanager, webhook):
    post(
        alertmanager,
        alert(TRAEFIK_DOWN, instance="traefik:8080", severity="page"),
        alert("LabTargetDown", function="fibonacci", instance="fibonacci-1:8080"),
        alert("LabProbeFailed", function="ackermann", part="ackermann", instance="probe"),
        # A part's own health is not caused by Traefik: it carries no function label.
        alert("LabProbeFailed", part="grafana", instance="grafana:3000"),
    )
    expected = {
        group(TRAEFIK_DOWN): ["traefik:8080"],
        group("LabProbeFailed"): ["grafana:3000"],
    }
    notifications = webhook.wait_for(lambda n: sent(n) == expected)
    # Long enough for a held-back group to have been flushed (group_wait and interval 1 s).
    time.sleep(3)
    assert sent(webhook.notifications) == expected, notifications

    states = {
        (a["labels"]["alertname"], a["labels"].get("function")): a["status"]
        for a in requests.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
    }
    assert states[("LabTargetDown", "fibonacci")]["state"] == "suppressed"
    assert states[("LabTargetDown", "fibonacci")]["inhibitedBy"], states
    assert states[("LabProbeFailed", "ackermann")]["state"] == "suppressed"
    assert states[(TRAEFIK_DOWN, None)]["state"] == "active"
    assert states[("LabProbeFailed", None)]["state"] == "active"
