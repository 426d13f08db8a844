"""Grafana's provisioning files: the Prometheus datasource and the file provider of dashboards."""

from __future__ import annotations

import yaml

from dashboards.grafana_panels import PROMETHEUS_NAME, PROMETHEUS_UID
from stack.settings import PROMETHEUS_PORT

PROVISIONING_DIR = "/etc/grafana/provisioning"
DATASOURCES_FILE = f"{PROVISIONING_DIR}/datasources/lab.yml"
PROVIDERS_FILE = f"{PROVISIONING_DIR}/dashboards/lab.yml"
DASHBOARD_DIR = "/etc/grafana/dashboards/lab"
DASHBOARD_FOLDER = "Lab"
PROMETHEUS_URL = f"http://prometheus:{PROMETHEUS_PORT}"


ALERTMANAGER_UID = "alertmanager"


def datasources(prometheus_url: str = PROMETHEUS_URL, alertmanager_url: str | None = None) -> str:
    """One Prometheus datasource, under the uid every panel of dashboards/ names; with
    `alertmanager_url` (e.g. http://alertmanager:9093/alertmanager) Alertmanager's too."""
    extra = []
    if alertmanager_url:
        extra.append(
            {
                "name": "Alertmanager",
                "uid": ALERTMANAGER_UID,
                "type": "alertmanager",
                "access": "proxy",
                "url": alertmanager_url,
                "editable": False,
                "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
            }
        )
    return yaml.safe_dump(
        {
            "apiVersion": 1,
            "datasources": [
                {
                    # The alert list panel finds its datasource by this name.
                    "name": PROMETHEUS_NAME,
                    "uid": PROMETHEUS_UID,
                    "type": "prometheus",
                    "access": "proxy",
                    "url": prometheus_url,
                    "isDefault": True,
                    "editable": False,
                    "jsonData": {"timeInterval": "5s"},
                },
                *extra,
            ],
        },
        sort_keys=False,
    )


def dashboard_providers(dashboard_dir: str = DASHBOARD_DIR) -> str:
    """Dashboards read from files, read-only in the UI, in the folder `Lab`."""
    return yaml.safe_dump(
        {
            "apiVersion": 1,
            "providers": [
                {
                    "name": "lab",
                    "folder": DASHBOARD_FOLDER,
                    "type": "file",
                    "disableDeletion": True,
                    "allowUiUpdates": False,
                    "updateIntervalSeconds": 30,
                    "options": {"path": dashboard_dir},
                }
            ],
        },
        sort_keys=False,
    )
