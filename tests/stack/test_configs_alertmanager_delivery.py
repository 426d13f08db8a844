"""stack/configs/alertmanager_yaml.py in a real Alertmanager (Debian's binary): it groups per
alert and function, holds back per-function alerts and Traefik's own probe while Traefik is
down, and delivers firing and resolved notifications to the webhook."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from stack.configs.alertmanager_yaml import WEBHOOK_RECEIVER
from tests.stack.test_configs_alertmanager import TRAEFIK_DOWN, write_config
from tests.support.alert_pipeline import check_payloads
from tests.support.binaries import packaged_binary
from tests.support.processes import running_alertmanager
from tests.support.webhook_receiver import Webhook


@pytest.fixture(scope="session")
def alertmanager_binary() -> str:
    return packaged_binary("Alertmanager", "prometheus-alertmanager", "alertmanager")


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    server = Webhook().start()
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
    with running_alertmanager(alertmanager_binary, config, tmp_path) as url:
        yield url


def alert(name: str, *, ended: bool = False, **labels: str) -> dict:
    """An alert as Prometheus posts it when it starts firing (startsAt is the firing time, so
    group_wait applies: Alertmanager flushes an alert older than group_wait at once); `ended`
    resolves it. Every lab rule gives its alerts a severity (dashboards/prometheus_rules.py)."""
    now = datetime.now(UTC)
    posted = {
        "labels": {"alertname": name, "severity": "page", **labels},
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
    # What Logstash's alerts branch would make of these real payloads (its shape).
    check_payloads(notifications, lab_wide_alerts=set())


@pytest.mark.slow
def test_traefik_down_holds_back_every_per_function_alert(alertmanager, webhook):
    post(
        alertmanager,
        alert(TRAEFIK_DOWN, instance="traefik:8080", severity="page"),
        alert("LabTargetDown", function="fibonacci", instance="fibonacci-1:8080"),
        alert("LabProbeFailed", function="ackermann", part="ackermann", instance="probe"),
        # Traefik's own health probe fails with it, and says nothing more.
        alert("LabProbeFailed", part="traefik", instance="traefik:8080"),
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
        (a["labels"]["alertname"], a["labels"].get("function") or a["labels"].get("part")): a[
            "status"
        ]
        for a in requests.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
    }
    assert states[("LabTargetDown", "fibonacci")]["state"] == "suppressed"
    assert states[("LabTargetDown", "fibonacci")]["inhibitedBy"], states
    assert states[("LabProbeFailed", "ackermann")]["state"] == "suppressed"
    assert states[("LabProbeFailed", "traefik")]["state"] == "suppressed"
    assert states[(TRAEFIK_DOWN, None)]["state"] == "active"
    assert states[("LabProbeFailed", "grafana")]["state"] == "active"
    check_payloads(webhook.notifications, lab_wide_alerts={TRAEFIK_DOWN, "LabProbeFailed"})
