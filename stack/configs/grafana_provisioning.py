"""Grafana's provisioning files: the Prometheus datasource and the file provider of dashboards."""

from __future__ import annotations

import yaml

from app.contract import EXEMPLAR_TRACE_LABEL
from dashboards import kibana_links
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
    kibana_url: str | None = None,
    password_file: str | None = None,
) -> str:
    """One Prometheus datasource, under the uid every panel of dashboards/ names; with
    `alertmanager_url` (e.g. http://alertmanager:9093/alertmanager) Alertmanager's too; with
    `kibana_url` (as browsers reach it) exemplars link to the lines of their trace in Kibana;
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
                    "jsonData": {"timeInterval": "5s", **exemplar_links(kibana_url)},
                    **login,
                },
                *extra,
            ],
        },
        sort_keys=False,
    )


def exemplar_links(kibana_url: str | None) -> dict:
    """The Prometheus datasource's `exemplarTraceIdDestinations`: each exemplar's `trace_id`
    label becomes a link to Kibana Discover on that trace (grafana v11.6.x
    packages/grafana-prometheus/src/types.ts ExemplarTraceIdDestination {name, url,
    urlDisplayLabel, datasourceUid}; result_transformer.ts getDataLinks puts `url` on the
    field named `name`, the clicked value in `${__value.raw}`). Grafana expands environment
    variables in every string of a provisioning file, `$$` being a literal `$`
    (pkg/services/provisioning/values/values.go interpolateValue), so each `$` is doubled."""
    if kibana_url is None:
        return {}
    return {
        "exemplarTraceIdDestinations": [
            {
                "name": EXEMPLAR_TRACE_LABEL,
                "url": kibana_links.trace_url(kibana_url).replace("$", "$$"),
                "urlDisplayLabel": "Kibana: this call's log lines",
            }
        ]
    }


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
