"""Kibana saved objects whose inner references resolve: ids inside one object (a chart's series
to its value axis and to its aggregation) and ids across the import (a panel or a search to
another object in the same NDJSON).

The rules, from elastic/kibana (src/plugins/vis_types/xy/public, under
src/platform/plugins/shared/vis_types/xy/public since 8.18; read at snapshot 0e3a30d):
- to_ast.ts: each `seriesParams[]` is matched to its value axis by
  `valueAxes.find(valueAxis => valueAxis.id === seriesParam.valueAxis)`; an unknown id leaves
  the series on no axis (utils/get_series_params.ts and config/get_config.ts skip it).
- utils/get_series_params.ts: `seriesParams.find(param => param.data.id === agg.id)` over the
  aggregations of the vis type's metric schema (`aggs.bySchemaName(schemas.metrics[0].name)`,
  "metric"); a series whose `data.id` names no metric aggregation is dropped.
- A saved object refers to another by `references[]` `{name, type, id}` and uses it by name:
  a dashboard panel as `<panelIndex>:<panelRefName>`, a search source by `indexRefName` (the
  naming tests/dashboards/test_kibana_objects.py proves); the import resolves each
  `(type, id)` among the file's objects or existing ones (src/core/packages/saved-objects/
  import-export-server-internal/src/import/lib/validate_references.ts). The lab imports into
  an empty Kibana, so every id must be in the same NDJSON.
"""

from __future__ import annotations

import copy
import json

import pytest

from dashboards import kibana_objects
from tests.dashboards import kibana_walk

METRIC_SCHEMA = "metric"


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return kibana_walk.parse_objects(kibana_objects.render(slow_call_ms=7))


def dangling(objects: list[dict]) -> list[str]:
    """Every inner or cross-object reference that does not resolve, one line each."""
    problems = []
    known = {(o["type"], o["id"]) for o in objects}
    for saved in objects:
        where = f"{saved['type']}/{saved['id']}"
        names = {r["name"] for r in saved.get("references", [])}
        for reference in saved.get("references", []):
            if (reference["type"], reference["id"]) not in known:
                problems.append(f"{where}: reference {reference} is not in the import")
        index_ref = kibana_walk.search_source(saved).get("indexRefName")
        if index_ref is not None and index_ref not in names:
            problems.append(f"{where}: indexRefName {index_ref!r} names no reference")
        if saved["type"] == "dashboard":
            for panel in json.loads(saved["attributes"]["panelsJSON"]):
                name = f"{panel['panelIndex']}:{panel['panelRefName']}"
                if name not in names:
                    problems.append(f"{where}: panel {name!r} names no reference")
        if saved["type"] == "visualization":
            problems += [f"{where}: {p}" for p in chart_problems(saved)]
    return problems


def chart_problems(saved: dict) -> list[str]:
    state = json.loads(saved["attributes"]["visState"])
    params = state["params"]
    axes = {axis["id"] for axis in params.get("valueAxes", [])}
    metrics = {agg["id"] for agg in state["aggs"] if agg["schema"] == METRIC_SCHEMA}
    problems = []
    for series in params.get("seriesParams", []):
        if series["valueAxis"] not in axes:
            problems.append(f"series valueAxis {series['valueAxis']!r} not in {sorted(axes)}")
        if series["data"]["id"] not in metrics:
            problems.append(f"series data.id {series['data']['id']!r} not in {sorted(metrics)}")
    return problems


def test_every_inner_and_cross_reference_resolves(objects):
    charts = [o for o in objects if o["type"] == "visualization"]
    series = [
        s
        for c in charts
        for s in json.loads(c["attributes"]["visState"])["params"].get("seriesParams", [])
    ]
    assert series, "no chart series: the rule would check nothing"
    assert any(o["type"] == "dashboard" for o in objects)
    assert dangling(objects) == []


def _chart_with_series(objects: list[dict]) -> tuple[dict, dict]:
    for saved in objects:
        if saved["type"] == "visualization":
            state = json.loads(saved["attributes"]["visState"])
            if state["params"].get("seriesParams"):
                return saved, state
    raise AssertionError("no chart with series")


def _set_state(saved: dict, state: dict) -> None:
    saved["attributes"]["visState"] = json.dumps(state)


def plant_axis(objects: list[dict]) -> None:
    saved, state = _chart_with_series(objects)
    state["params"]["seriesParams"][0]["valueAxis"] = "ValueAxis-2"
    _set_state(saved, state)


def plant_series_data(objects: list[dict]) -> None:
    saved, state = _chart_with_series(objects)
    state["params"]["seriesParams"][0]["data"]["id"] = "9"
    _set_state(saved, state)


def plant_series_on_a_bucket(objects: list[dict]) -> None:
    saved, state = _chart_with_series(objects)
    bucket = next(a for a in state["aggs"] if a["schema"] != METRIC_SCHEMA)
    state["params"]["seriesParams"][0]["data"]["id"] = bucket["id"]
    _set_state(saved, state)


def plant_panel_reference(objects: list[dict]) -> None:
    board = next(o for o in objects if o["type"] == "dashboard")
    board["references"][0]["id"] += "-typo"


def plant_panel_ref_name(objects: list[dict]) -> None:
    board = next(o for o in objects if o["type"] == "dashboard")
    panels = json.loads(board["attributes"]["panelsJSON"])
    panels[-1]["panelRefName"] = "panel_99"
    board["attributes"]["panelsJSON"] = json.dumps(panels)


def plant_search_index(objects: list[dict]) -> None:
    search = next(o for o in objects if o["type"] == "search")
    search["references"][0]["id"] = "lab-log"


@pytest.mark.parametrize(
    "plant",
    [
        plant_axis,
        plant_series_data,
        plant_series_on_a_bucket,
        plant_panel_reference,
        plant_panel_ref_name,
        plant_search_index,
    ],
)
def test_one_wrong_id_is_caught(objects, plant):
    broken = copy.deepcopy(objects)
    plant(broken)
    assert len(dangling(broken)) == 1, dangling(broken)
