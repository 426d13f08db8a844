"""Grafana 11.6's rules over the provisioning files and the dashboard the lab provisions.

Sources (grafana/grafana v11.6.x, recorded in docs/product-rules.md G1/G2):
pkg/services/provisioning/datasources/types.go (configsV1, upsertDataSourceFromConfigV1) and
pkg/services/provisioning/dashboards/types.go (configs): YAML goes into those structs, so an
unknown key is dropped without a word. Variables: public/app/features/variables and
pkg/.../template_srv built-ins (`$__interval`, `$__rate_interval`, `$__range`, ...).
"""

import re

import yaml

from dashboards import grafana_overview
from stack.configs import grafana_provisioning

DATASOURCE_FILE_KEYS = {"apiVersion", "datasources", "deleteDatasources", "prune"}
DATASOURCE_KEYS = {
    *("orgId", "orgName", "version", "name", "type", "access", "url", "user", "database"),
    *("basicAuth", "basicAuthUser", "withCredentials", "isDefault", "correlations"),
    *("jsonData", "secureJsonData", "editable", "uid", "isPrunable"),
}
PROVIDER_FILE_KEYS = {"apiVersion", "providers"}
PROVIDER_KEYS = {
    *("name", "type", "orgId", "folder", "folderUid", "editable", "options"),
    *("disableDeletion", "updateIntervalSeconds", "allowUiUpdates"),
}
PROVIDER_OPTIONS = {"path", "foldersFromFilesStructure"}
BUILT_IN_VARIABLES = {
    *("__interval", "__interval_ms", "__rate_interval", "__range", "__range_s", "__range_ms"),
    *("__from", "__to", "__dashboard", "__org", "__user", "__timeFilter", "__name", "__all"),
}
# `$1` in label_replace is a regex group, never a variable name: names start with a letter or _.
VARIABLE = re.compile(r"\$(?:\{([A-Za-z_]\w*)(?::\w+)?\}|([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)\]\])")


def test_datasource_file_keys_are_read_by_11_6():
    """pkg/services/provisioning/datasources/types.go: configsV1, upsertDataSourceFromConfigV1."""
    document = yaml.safe_load(grafana_provisioning.datasources())
    assert set(document) <= DATASOURCE_FILE_KEYS
    for source in document["datasources"]:
        assert set(source) <= DATASOURCE_KEYS, source.get("name")


def test_dashboard_provider_keys_are_read_by_11_6():
    """pkg/services/provisioning/dashboards/types.go: configs; names must be unique."""
    document = yaml.safe_load(grafana_provisioning.dashboard_providers())
    assert set(document) <= PROVIDER_FILE_KEYS
    names = [p["name"] for p in document["providers"]]
    assert len(names) == len(set(names))
    for provider in document["providers"]:
        assert set(provider) <= PROVIDER_KEYS, provider["name"]
        assert set(provider.get("options", {})) <= PROVIDER_OPTIONS, provider["name"]


def _panels(panels: list) -> list:
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(_panels(panel.get("panels", [])))
    return found


def _datasource_uids(node) -> list[str]:
    if isinstance(node, dict):
        found = []
        source = node.get("datasource")
        if isinstance(source, dict) and "uid" in source:
            found.append(source["uid"])
        for value in node.values():
            found.extend(_datasource_uids(value))
        return found
    if isinstance(node, list):
        return [uid for item in node for uid in _datasource_uids(item)]
    return []


def test_every_datasource_uid_is_provisioned():
    """A panel whose datasource uid Grafana does not know shows "Datasource ... was not found"
    (pkg/services/datasources lookup by uid); `-- Grafana --` is the built-in one."""
    provisioned = {
        s["uid"] for s in yaml.safe_load(grafana_provisioning.datasources())["datasources"]
    }
    board = grafana_overview.build()
    used = set(_datasource_uids(board)) - {"grafana", "-- Grafana --"}
    assert used, "no panel names a datasource"
    assert used <= provisioned, f"unknown datasource uids {sorted(used - provisioned)}"


def test_every_variable_used_in_a_query_is_defined():
    """Template variables: a `$name` that is neither defined in templating.list nor a built-in
    stays literal in the query Grafana sends."""
    board = grafana_overview.build()
    defined = {v["name"] for v in board.get("templating", {}).get("list", [])}
    for panel in _panels(board["panels"]):
        for target in panel.get("targets", []):
            for groups in VARIABLE.findall(target.get("expr", "")):
                name = next(g for g in groups if g)
                assert name in defined | BUILT_IN_VARIABLES, f"{panel.get('title')}: ${name}"
