"""The overview dashboard's JSON model: stable bytes, the panels asked for, built by a loop."""

import json
import os
import subprocess
import sys

import pytest

from app.contract import FUNCTIONS
from dashboards import grafana_overview, grafana_panels, grafana_rows, kibana_links, promql
from lab.support import REPO_ROOT


@pytest.fixture(scope="module")
def model() -> dict:
    return grafana_overview.build(FUNCTIONS)


def panels(model: dict) -> list[dict]:
    """The Prometheus panels (the alert list reads rule states, it has no query)."""
    return [p for p in model["panels"] if p["type"] not in ("row", "alertlist")]


def rows(model: dict) -> list[tuple[dict, list[dict]]]:
    """Each row with the panels that follow it (Grafana's layout for expanded rows)."""
    grouped: list[tuple[dict, list[dict]]] = []
    for panel in model["panels"]:
        if panel["type"] == "row":
            grouped.append((panel, []))
        else:
            grouped[-1][1].append(panel)
    return grouped


# What the program uploads, rendered in a fresh interpreter (whatever command writes it out).
RENDER_ALL = """
from dashboards import grafana_overview, grafana_panels, kibana_objects, prometheus_rules
import json, sys
json.dump(
    [
        grafana_panels.dump(grafana_overview.build()),
        prometheus_rules.render(),
        kibana_objects.render(slow_call_ms=5),
    ],
    sys.stdout,
)
"""


def test_render_is_byte_identical_across_processes():
    """Two interpreters with different hash seeds render the very same text."""
    outputs = [
        subprocess.run(
            [sys.executable, "-c", RENDER_ALL],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1]
    dashboard_text = json.loads(outputs[0])[0]
    assert dashboard_text == grafana_panels.dump(grafana_overview.build(FUNCTIONS))
    assert dashboard_text == json.dumps(json.loads(dashboard_text), sort_keys=True, indent=2) + "\n"


def test_identity_and_tags(model):
    assert model["uid"] == "lab-overview"
    assert model["title"] == "Lab overview"
    assert "generated" in model["tags"]
    assert isinstance(model["schemaVersion"], int)
    # Grafana reads `annotations.list`; an object without it breaks loading.
    built_in, alerts = model["annotations"]["list"]
    assert built_in["builtIn"] == 1
    assert built_in["type"] == "dashboard"
    # Where alerts started and ended: one region per firing ALERTS series.
    assert alerts["datasource"] == {"type": "prometheus", "uid": "prometheus"}
    assert alerts["expr"] == 'ALERTS{alertstate="firing"}'
    assert alerts["enable"] is True
    assert "function" in alerts["tagKeys"].split(",")


def test_every_panel_reads_the_provisioned_prometheus_with_unit_and_legend(model):
    for panel in panels(model):
        where = f"panel {panel['title']!r}"
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, where
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{where} has no unit"
        assert panel.get("description"), f"{where} has no description"
        assert panel["targets"], f"{where} has no query"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(set(ref_ids)) == len(ref_ids), where
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "prometheus", where
            assert target["expr"].strip(), where
            assert target["legendFormat"].strip(), f"{where} query {target['refId']} has no legend"


def test_ids_unique_and_grid_without_overlap(model):
    ids = [p["id"] for p in model["panels"]]
    assert len(set(ids)) == len(ids)
    occupied: set[tuple[int, int]] = set()
    for panel in model["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{panel['title']!r} overlaps another panel"
        occupied |= cells


def test_thresholds_mark_the_alert_limits(model):
    by_title = {p["title"]: p for p in panels(model)}
    ratio_steps = by_title["5xx ratio by function"]["fieldConfig"]["defaults"]["thresholds"]
    assert ratio_steps["steps"][-1] == {"color": "red", "value": 0.05}
    latency_steps = by_title["p95 latency seen by clients"]["fieldConfig"]["defaults"]["thresholds"]
    assert latency_steps["steps"][-1] == {"color": "red", "value": 0.25}


def test_one_row_per_function_with_the_same_panels(model):
    function_rows = [(row, members) for row, members in rows(model) if "Function:" in row["title"]]
    assert [row["title"] for row, _ in function_rows] == [f"Function: {f}" for f in FUNCTIONS]
    titles = [[p["title"] for p in members] for _, members in function_rows]
    assert all(t == titles[0] for t in titles), titles
    expected = {
        "Request rate",
        "4xx and 5xx ratio",
        "Latency at Traefik",
        "Latency in the app",
        "Traefik overhead",
        "Compute time",
        "Requests in flight",
        "Healthy replicas",
    }
    assert set(titles[0]) == expected
    for (row, members), function in zip(function_rows, FUNCTIONS, strict=True):
        others = [f for f in FUNCTIONS if f != function]
        for panel in members:
            for target in panel["targets"]:
                expr = target["expr"]
                assert function in expr, f"{row['title']} / {panel['title']}: {expr}"
                assert not any(o in expr for o in others), f"{panel['title']} leaks: {expr}"


def test_latency_panels_show_three_quantiles_from_the_right_histograms(model):
    first_function_row = next(m for r, m in rows(model) if r["title"].startswith("Function:"))
    members = {p["title"]: p for p in first_function_row}
    expectations = {
        "Latency at Traefik": ("traefik_service_request_duration_seconds_bucket",),
        "Latency in the app": ("lab_request_duration_seconds_bucket",),
        "Traefik overhead": (
            "traefik_service_request_duration_seconds_bucket",
            "lab_request_duration_seconds_bucket",
        ),
        "Compute time": ("lab_compute_duration_seconds_bucket",),
    }
    for title, metrics in expectations.items():
        exprs = [t["expr"] for t in members[title]["targets"]]
        assert [t["legendFormat"] for t in members[title]["targets"]] == ["p50", "p95", "p99"]
        for quantile, expr in zip(("0.5", "0.95", "0.99"), exprs, strict=True):
            assert expr.startswith(f"histogram_quantile({quantile},"), expr
            assert all(metric in expr for metric in metrics), expr
    overhead = members["Traefik overhead"]["targets"][0]["expr"]
    assert ") - histogram_quantile(" in overhead


def test_the_loop_follows_the_function_list():
    two = grafana_overview.build(["fibonacci", "ackermann"])
    titles = [p["title"] for p in two["panels"] if p["type"] == "row"]
    assert titles == [
        grafana_rows.ALERTS_ROW,
        "All functions: $function",
        "Function: fibonacci",
        "Function: ackermann",
        "Replicas: $function",
        grafana_overview.PARTS_ROW,
        grafana_rows.HOST_ROW,
        grafana_rows.LOGS_ROW,
    ]
    assert "factorial" not in json.dumps(two)


def test_function_variable_and_entrypoint_totals(model):
    (variable,) = model["templating"]["list"]
    assert variable["name"] == "function"
    assert variable["type"] == "query"
    assert variable["multi"] is True
    assert variable["includeAll"] is True
    assert variable["datasource"]["uid"] == "prometheus"
    assert variable["query"] == "label_values(lab_requests_total, function)"
    summary = next(m for r, m in rows(model) if r["title"].startswith("All functions"))
    assert all(
        "$function" in json.dumps(p["targets"]) or "traefik" in json.dumps(p["targets"])
        for p in summary
    )
    entry = [p for p in summary if "entrypoint" in p["title"]]
    exprs = [t["expr"] for p in entry for t in p["targets"]]
    assert any('traefik_entrypoint_requests_total{entrypoint="web"}' in e for e in exprs), exprs


def test_alert_list_reads_the_provisioned_prometheus_by_name(model):
    """Grafana's alert list panel filters rule sources by datasource *name*."""
    from stack.configs import grafana_provisioning

    (alert_row,) = [m for r, m in rows(model) if r["title"] == grafana_rows.ALERTS_ROW]
    (alert_list,) = alert_row
    assert alert_list["type"] == "alertlist"
    provisioned = yaml_names(grafana_provisioning.datasources())
    assert alert_list["options"]["datasource"] in provisioned
    assert alert_list["options"]["stateFilter"]["firing"] is True
    # grafana/grafana public/app/plugins/panel/alertlist/types.ts (11.x): UnifiedAlertListOptions
    # and StateFilter; an unknown key is ignored silently, a misspelt filter shows nothing.
    known = {
        "maxItems", "sortOrder", "dashboardAlerts", "groupMode", "groupBy", "alertName",
        "showInstances", "folder", "stateFilter", "alertInstanceLabelFilter", "datasource",
        "viewMode", "showInactiveAlerts",
    }  # fmt: skip
    assert set(alert_list["options"]) <= known
    states = {"firing", "pending", "inactive", "recovering", "noData", "normal", "error"}
    assert set(alert_list["options"]["stateFilter"]) <= states


def yaml_names(text: str) -> set[str]:
    import yaml

    return {source["name"] for source in yaml.safe_load(text)["datasources"]}


def test_host_row_reads_node_exporter(model):
    (host,) = [m for r, m in rows(model) if r["title"] == grafana_rows.HOST_ROW]
    exprs = " ".join(t["expr"] for p in host for t in p["targets"])
    for metric in (
        "node_cpu_seconds_total",
        "node_load1",
        "node_memory_MemAvailable_bytes",
        "node_filesystem_avail_bytes",
        "node_network_receive_bytes_total",
        "node_network_transmit_bytes_total",
    ):
        assert metric in exprs, metric


def test_docker_disk_is_the_deepest_mount_above_its_data_directory():
    assert promql.mountpoint_of("/var/lib/docker") == [
        "/var/lib/docker",
        "/var/lib",
        "/var",
        "/",
    ]
    expr = promql.disk_available("/srv/docker")
    # Deepest first: `or on (instance)` keeps the first candidate that exists per host.
    assert expr.index('mountpoint="/srv/docker"') < expr.index('mountpoint="/srv"')
    assert expr.index('mountpoint="/srv"') < expr.index('mountpoint="/"')
    assert expr.count(" or on (instance) ") == 2


def test_no_kibana_url_means_no_links(model):
    assert "discover" not in json.dumps(model)


def test_every_function_panel_links_to_its_kibana_searches():
    kibana = "http://127.0.0.1:8000/kibana"
    model = grafana_overview.build(FUNCTIONS, kibana_url=kibana)
    for row, members in rows(model):
        for panel in members:
            links = panel.get("fieldConfig", {}).get("defaults", {}).get("links", [])
            if not row["title"].startswith("Function:"):
                assert not links, f"{row['title']} / {panel['title']} links to Kibana"
                continue
            function = row["title"].removeprefix("Function: ")
            urls = [link["url"] for link in links]
            assert [u.split("?")[0] for u in urls] == [
                f"{kibana}/app/discover#/view/{kibana_links.ERRORS_SEARCH}",
                f"{kibana}/app/discover#/view/{kibana_links.CALLS_SEARCH}",
            ], panel["title"]
            for url in urls:
                assert f"match_phrase:(lab.function:{function})" in url
                assert "from:'${__from:date:iso}',to:'${__to:date:iso}'" in url
                # Balanced Rison: every opened group closes.
                assert url.count("(") == url.count(")"), url
