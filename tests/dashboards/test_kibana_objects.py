"""Kibana saved objects: the structure Kibana 8.19 imports, and references that resolve."""

import json

import pytest

from dashboards import grafana_overview, kibana_alerts, kibana_objects
from dashboards.alert_events import ALERTS_INDEX_PATTERN, EVENT_FIELD_TYPES
from stack.configs import logstash_alerts
from tests.dashboards import kibana_walk
from tests.rules.test_kibana import KNOWN_TYPE_VERSIONS
from tests.support import index_templates

SLOW_CALL_MS = 7
GRAFANA_URL = "http://127.0.0.1:8000/grafana"
TOP_LEVEL_KEYS = {
    "attributes",
    "coreMigrationVersion",
    "id",
    "managed",
    "references",
    "type",
    "typeMigrationVersion",
}
# Attributes Kibana stores as JSON text rather than as objects.
JSON_STRING_ATTRIBUTES = {
    "index-pattern": ("fieldAttrs", "fieldFormatMap", "fields", "runtimeFieldMap", "sourceFilters"),
    "search": (),
    "visualization": ("uiStateJSON", "visState"),
    "dashboard": ("optionsJSON", "panelsJSON"),
}
REQUIRED_ATTRIBUTES = {
    "index-pattern": {"title", "timeFieldName", "name"},
    "search": {"title", "columns", "sort", "kibanaSavedObjectMeta"},
    "visualization": {"title", "visState", "uiStateJSON", "kibanaSavedObjectMeta"},
    "dashboard": {"title", "panelsJSON", "optionsJSON", "kibanaSavedObjectMeta", "timeRestore"},
}


@pytest.fixture(scope="module")
def ndjson() -> str:
    return kibana_objects.render(slow_call_ms=SLOW_CALL_MS, grafana_url=GRAFANA_URL)


@pytest.fixture(scope="module")
def objects(ndjson) -> list[dict]:
    return kibana_walk.parse_objects(ndjson)


def by_id(objects: list[dict]) -> dict[str, dict]:
    return {o["id"]: o for o in objects}


def test_one_object_per_line_and_stable(ndjson):
    assert ndjson.endswith("\n")
    lines = ndjson.splitlines()
    assert all(line.startswith("{") and line.endswith("}") for line in lines)
    assert ndjson == kibana_objects.render(slow_call_ms=SLOW_CALL_MS, grafana_url=GRAFANA_URL)


def test_envelope_of_every_object(objects):
    ids = [o["id"] for o in objects]
    assert len(set(ids)) == len(ids)
    assert {o["type"] for o in objects} == set(REQUIRED_ATTRIBUTES)
    for saved in objects:
        where = f"{saved['type']}/{saved['id']}"
        assert set(saved) == TOP_LEVEL_KEYS, where
        assert saved["id"].startswith("lab-"), where
        assert saved["coreMigrationVersion"] == "8.8.0", where
        # A version Kibana 8.19 has for the type (its migration map / model versions, read
        # from elastic/kibana in tests/rules/test_kibana.py): an unknown one is refused.
        known = KNOWN_TYPE_VERSIONS[saved["type"]]
        assert saved["typeMigrationVersion"] in known, (where, saved["typeMigrationVersion"])
        assert "migrationVersion" not in saved, f"{where}: legacy field next to the new one"
        assert REQUIRED_ATTRIBUTES[saved["type"]] <= set(saved["attributes"]), where
        for attribute in JSON_STRING_ATTRIBUTES[saved["type"]]:
            text = saved["attributes"][attribute]
            assert isinstance(text, str), f"{where}.{attribute} must be JSON text"
            json.loads(text)
        meta = saved["attributes"].get("kibanaSavedObjectMeta")
        if meta is not None:
            assert isinstance(meta["searchSourceJSON"], str), where
            json.loads(meta["searchSourceJSON"])


def test_data_view(objects):
    view = by_id(objects)["lab-logs"]
    assert view["type"] == "index-pattern"
    assert view["attributes"]["title"] == "lab-logs-*"
    assert view["attributes"]["timeFieldName"] == "@timestamp"
    assert view["references"] == []


def test_every_reference_resolves_and_is_used(objects):
    known = {(o["type"], o["id"]) for o in objects}
    position = {o["id"]: i for i, o in enumerate(objects)}
    for saved in objects:
        where = f"{saved['type']}/{saved['id']}"
        names = [r["name"] for r in saved["references"]]
        assert len(set(names)) == len(names), f"{where}: duplicate reference names"
        for reference in saved["references"]:
            assert set(reference) == {"id", "name", "type"}, where
            assert (reference["type"], reference["id"]) in known, f"{where} -> {reference}"
            # Import order: whatever is referred to comes first, as in Kibana's own exports.
            assert position[reference["id"]] < position[saved["id"]], where
        used = set()
        index_ref = kibana_walk.search_source(saved).get("indexRefName")
        if index_ref:
            used.add(index_ref)
        if saved["type"] == "dashboard":
            for panel in json.loads(saved["attributes"]["panelsJSON"]):
                used.add(f"{panel['panelIndex']}:{panel['panelRefName']}")
        assert used == set(names), f"{where}: used {used} but declares {names}"


def test_saved_searches(objects):
    saved = by_id(objects)
    assert saved["lab-calls"]["attributes"]["columns"] == [
        "lab.function",
        "lab.arguments",
        "http.response.status_code",
        "event.duration",
    ]
    errors = kibana_walk.search_source(saved["lab-errors"])["query"]["query"]
    assert ("http.response.status_code", ">=", "400") in kibana_walk.kql_clauses(errors)
    slow = kibana_walk.search_source(saved["lab-slow-calls"])["query"]["query"]
    assert ("event.duration", ">", str(SLOW_CALL_MS * 1_000_000)) in kibana_walk.kql_clauses(slow)
    assert saved["lab-slow-calls"]["attributes"]["sort"] == [["event.duration", "desc"]]


def test_visualizations_and_dashboard(objects):
    saved = by_id(objects)
    states = {
        i: json.loads(saved[i]["attributes"]["visState"])
        for i in ("lab-calls-per-function", "lab-compute-duration", "lab-status-codes")
    }
    fields = {i: {a["params"].get("field") for a in s["aggs"]} for i, s in states.items()}
    assert {"@timestamp", "lab.function"} <= fields["lab-calls-per-function"]
    assert {"lab.compute.duration", "lab.function"} <= fields["lab-compute-duration"]
    assert "http.response.status_code" in fields["lab-status-codes"]
    for state in states.values():
        assert state["title"]
        assert all(agg["schema"] and agg["type"] for agg in state["aggs"])
    board = saved["lab-logs-overview"]
    held = {r["id"] for r in board["references"]}
    assert set(states) <= held
    panels = json.loads(board["attributes"]["panelsJSON"])
    for panel in panels:
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"]
        assert grid["x"] + grid["w"] <= 48  # Kibana's dashboard grid is 48 columns wide


def test_field_walker_sees_every_kind_of_use(objects):
    """The field proof is only as good as the walker: it must see each kind of use."""
    wheres = {where.split(" ", 1)[1].split(" ")[0] for _, where in kibana_walk.fields_used(objects)}
    assert {"timeFieldName", "fieldFormatMap", "column", "sort", "query", "aggregation"} <= wheres


def test_alerts_search_reads_the_alert_events_the_template_maps(objects):
    """ "Lab: alerts" lists the fields Logstash gives each alert event (alert_events.py) and
    the alerts index template maps, over a data view of the alerts index only."""
    saved = by_id(objects)
    view = saved[kibana_alerts.DATA_VIEW_ID]
    assert view["type"] == "index-pattern"
    assert view["attributes"]["title"] == ALERTS_INDEX_PATTERN
    search = saved[kibana_alerts.SEARCH_ID]
    assert search["attributes"]["title"] == "Lab: alerts"
    assert [r["id"] for r in search["references"]] == [kibana_alerts.DATA_VIEW_ID]
    mapped = index_templates.template_types(logstash_alerts.template())
    alert_objects = [view, search]
    used = list(kibana_walk.fields_used(alert_objects))
    assert {f for f, _ in used} >= {"@timestamp", "alert.name", "alert.status", "lab.function"}
    for field, where in used:
        assert field in EVENT_FIELD_TYPES, f"{where}: {field} is no alert event field"
        assert mapped.get(field) == EVENT_FIELD_TYPES[field], f"{where}: {field} unmapped"
    board = saved["lab-logs-overview"]
    assert kibana_alerts.SEARCH_ID in {r["id"] for r in board["references"]}


def test_lab_logs_links_back_to_grafana(objects):
    saved = by_id(objects)
    link = saved[kibana_alerts.LINK_ID]
    state = json.loads(link["attributes"]["visState"])
    assert state["type"] == "markdown"
    assert f"]({GRAFANA_URL}/d/{grafana_overview.UID})" in state["params"]["markdown"]
    panels = json.loads(saved["lab-logs-overview"]["attributes"]["panelsJSON"])
    first = next(
        r
        for r in saved["lab-logs-overview"]["references"]
        if r["name"].startswith(panels[0]["panelIndex"] + ":")
    )
    assert first["id"] == kibana_alerts.LINK_ID, "the link opens the dashboard"


def test_no_grafana_url_means_no_link():
    plain = kibana_walk.parse_objects(kibana_objects.render(slow_call_ms=SLOW_CALL_MS))
    assert kibana_alerts.LINK_ID not in by_id(plain)
    assert "/d/" not in json.dumps(plain)
