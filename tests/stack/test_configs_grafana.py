"""stack/configs/grafana_provisioning.py: the datasource every panel names, and the folder."""

import yaml

from dashboards import grafana_overview
from stack.configs import grafana_provisioning


def test_the_provisioned_datasource_is_the_one_every_panel_reads():
    (source,) = yaml.safe_load(grafana_provisioning.datasources())["datasources"]
    with_alerts = grafana_provisioning.datasources(alertmanager_url="http://alertmanager:9093/am")
    (_, alertmanager) = yaml.safe_load(with_alerts)["datasources"]
    assert alertmanager["type"] == "alertmanager"
    assert alertmanager["url"] == "http://alertmanager:9093/am"
    assert alertmanager["jsonData"]["implementation"] == "prometheus"
    assert (source["name"], source["type"], source["url"]) == (
        "Prometheus",
        "prometheus",
        "http://prometheus:9090",
    )
    uids = {
        target["datasource"]["uid"]
        for panel in grafana_overview.build()["panels"]
        for target in panel.get("targets", [])
    }
    assert uids == {source["uid"]}


def test_dashboards_come_from_the_uploaded_folder_read_only():
    (provider,) = yaml.safe_load(grafana_provisioning.dashboard_providers())["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == grafana_provisioning.DASHBOARD_FOLDER
    assert provider["options"]["path"] == grafana_provisioning.DASHBOARD_DIR
    assert provider["allowUiUpdates"] is False
