"""The harness lab with an alerting Prometheus and Alertmanager, and a webhook receiver in
Logstash's place (tests/live/test_alert_delivery.py, tests/live/test_incident_docker.py).

Prometheus and Alertmanager are replaced by the containers the program declares with the given
`lab:alertFor` and `lab:alertTiming` (none: the lab's defaults); Alertmanager's is the one
declared with `lab:logs` on, so its webhook points at Logstash's HTTP input. Logstash cannot run
here: a receiver from the lab's python stand-in image (tests/support/webhook_receiver.py) takes
the host name and port of that URL on the lab network and prints every notification. restore()
puts back the session's own Prometheus and Alertmanager as the session declared them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import docker.errors
import requests
import yaml

from lab.support import wait_until
from stack.configs import alertmanager_yaml, prometheus_yaml
from stack.settings_tables import ALERTMANAGER_SUB_PATH
from tests.support.declared import capture
from tests.support.live_lab import LiveLab

RECEIVER = Path(__file__).resolve().parent / "webhook_receiver.py"
RECEIVER_FILE = "/opt/lab/webhook_receiver.py"


class AlertingLab:
    """The lab with the alerting Prometheus and Alertmanager, and the receiver's notifications."""

    def __init__(
        self,
        lab: LiveLab,
        alert_for: Mapping[str, str] | None = None,
        alert_timing: Mapping[str, str] | None = None,
    ) -> None:
        self.lab, self.api = lab, lab.client.api
        config = dict(lab.config)
        if alert_for is not None:
            config["lab:alertFor"] = dict(alert_for)
        if alert_timing is not None:
            config["lab:alertTiming"] = dict(alert_timing)
        with ThreadPoolExecutor(2) as pool:
            declared, with_logs = pool.map(
                lambda overrides: _containers(capture(lab.project, lab.stack, overrides)),
                [config, {**config, "lab:logs": True}],
            )
        self.prometheus = lab.the_container("prometheus")
        self.alertmanager = lab.the_container("alertmanager")
        self.replacements = {
            self.prometheus: declared[self.prometheus],
            self.alertmanager: with_logs[self.alertmanager],
        }
        self.webhook_url = _webhook_url(with_logs[self.alertmanager])
        self.receiver = f"{self.alertmanager}-webhook-receiver"

    def start(self) -> None:
        url = urlsplit(self.webhook_url)
        network = self.replacements[self.alertmanager]["networksAdvanced"][0]["name"]
        receiver = {
            "name": self.receiver,
            "image": self.lab.settings.images["python"],
            "command": ["python3", RECEIVER_FILE, str(url.port)],
            # The host name Alertmanager's config dials, as Logstash's alias would be.
            "networksAdvanced": [{"name": network, "aliases": [url.hostname]}],
            "uploads": [{"file": RECEIVER_FILE, "source": str(RECEIVER)}],
            "labels": [{"label": "lab.stack", "value": self.lab.stack}],
        }
        self.api.start(self.lab.harness.create_container(receiver))
        wait_until(self._listening, timeout=30, interval=0.2, what="the webhook receiver")
        self._replace(self.replacements)

    def restore(self) -> None:
        """The session's Prometheus and Alertmanager back, every part running, no receiver."""
        functions = {
            self.lab.labels_of(i).get("lab.function") for i in self.lab.containers.values()
        }
        parts = [self.lab.the_container("traefik")]
        for function in functions - {None}:
            parts += self.lab.replicas(function)
        for name in parts:
            state = self.api.inspect_container(name)["State"]
            if state.get("Paused"):
                self.api.unpause(name)
            elif not state["Running"]:
                self.api.start(name)
        # NotFound: start() failed before the receiver was created.
        with contextlib.suppress(docker.errors.NotFound):
            self.api.remove_container(self.receiver, force=True)
        self._replace({name: self.lab.containers[name] for name in self.replacements})

    def _replace(self, containers: dict[str, dict]) -> None:
        for name, inputs in containers.items():
            self.api.remove_container(name, force=True)
            self.api.start(self.lab.harness.create_container(inputs))
        self.lab.harness.wait_healthy(containers, timeout=90)

    def _listening(self) -> bool:
        return b'"listening"' in self.api.logs(self.receiver)

    def rule(self, alert: str) -> dict:
        """One rule of the file the declared Prometheus loads."""
        (upload,) = [
            u
            for u in self.replacements[self.prometheus]["uploads"]
            if u["file"] == prometheus_yaml.RULES_FILE
        ]
        rules = yaml.safe_load(upload["content"])["groups"][0]["rules"]
        (found,) = [rule for rule in rules if rule["alert"] == alert]
        return found

    def received(self) -> list[dict]:
        """Every notification so far: {"received": unix time, "body": webhook payload}."""
        lines = self.api.logs(self.receiver, stderr=False).decode().splitlines()
        return [record for record in map(json.loads, lines) if "body" in record]

    def query(self, expr: str) -> list[dict]:
        return self.lab.query(expr, timeout=5)

    def alertmanager_alerts(self) -> list[dict]:
        url = self.lab.url("alertmanager") + ALERTMANAGER_SUB_PATH + "/api/v2/alerts"
        return requests.get(url, auth=self.lab.monitoring_login, timeout=5).json()

    def wait_for_notification(self, since: int, status: str, alertname: str, **labels) -> float:
        """The receipt time of the first notification after record `since` of this group."""
        found: list[float] = []

        def arrived() -> bool:
            found[:] = [
                r["received"]
                for r in self.received()[since:]
                if r["body"]["status"] == status
                and r["body"]["groupLabels"] == {"alertname": alertname, **labels}
            ]
            return bool(found)

        wait_until(arrived, timeout=90, interval=0.25, what=f"{status} {alertname} {labels}")
        return found[0]


def _containers(resources) -> dict[str, dict]:
    return {r.inputs["name"]: r.inputs for r in resources if r.type.endswith("Container")}


def _webhook_url(alertmanager_inputs: dict) -> str:
    (upload,) = [
        u for u in alertmanager_inputs["uploads"] if u["file"] == alertmanager_yaml.CONFIG_FILE
    ]
    config = yaml.safe_load(upload["content"])
    (receiver,) = [
        r for r in config["receivers"] if r["name"] == alertmanager_yaml.WEBHOOK_RECEIVER
    ]
    (webhook,) = receiver["webhook_configs"]
    return webhook["url"]
