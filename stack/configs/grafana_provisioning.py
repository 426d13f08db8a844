"""Grafana's provisioning files: the Prometheus datasource and the file provider of dashboards."""

from __future__ import annotations

import yaml

from dashboards.grafana_panels import PROMETHEUS_NAME, PROMETHEUS_UID
from stack.configs.web_config import MONITORING_USER
from stack.settings import PROMETHEUS_PORT

PROVISIONING_DIR = "/etc/grafana/provisioning"
DATASOURCES_FILE = f"{PROVISIONING_DIR}/datasources/lab.yml"
PROVIDERS_FILE = f"{PROVISIONING_DIR}/dashboards/lab.yml"
DASHBOARD_DIR = "/etc/grafana/dashboards/lab"
DASHBOARD_FOLDER = "Lab"
PROMETHEUS_URL = f"http://prometheus:{PROMETHEUS_PORT}"


ALERTMANAGER_UID = "alertmanager"


def _login(password_file: str | None) -> dict:
    """A datasource's basic auth as the lab's monitoring user (web_config.py), the password
    read from `password_file` when Grafana provisions it: `$__file{path}` (Grafana 11.6
    docs, "Provision Grafana": "Using environment variables"/"$__file{}" expansion in
    provisioning files, pkg/services/provisioning/values), kept encrypted with secret_key."""
    if password_file is None:
        return {}
    return {
        "basicAuth": True,
        "basicAuthUser": MONITORING_USER,
        "secureJsonData": {"basicAuthPassword": f"$__file{{{password_file}}}"},
    }


def datasources(
    prometheus_url: str = PROMETHEUS_URL,
    alertmanager_url: str | None = None,
    password_file: str | None = None,
) -> str:
    """One Prometheus datasource, under the uid every panel of dashboards/ names; with
    `alertmanager_url` (e.g. http://alertmanager:9093/alertmanager) Alertmanager's too;
    with `password_file` both sign in (Prometheus' and Alertmanager's own login)."""
    login = _login(password_file)
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
                **login,
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
                    **login,
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
