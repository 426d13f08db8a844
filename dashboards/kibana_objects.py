"""Kibana saved objects for the lab's logs, as the NDJSON that Kibana's import API takes.

Targets Kibana 8.19 (the pinned image). Each object carries the migration versions that
Kibana 8.19 itself writes on export, so the import API takes them as current and does not
run old migrations over them: `coreMigrationVersion` 8.8.0 (the core version has stayed there
since saved-object types moved to model versions) and a `typeMigrationVersion` per type.
JSON-valued attributes (`searchSourceJSON`, `visState`, `panelsJSON`, ...) are JSON strings,
as in an export, and every link to another object goes through `references`.
"""

import json
from collections.abc import Sequence

from app.contract import ACCESS_DATASET, LOGS_INDEX_PATTERN
from dashboards.kibana_charts import agg, terms, xy_params

CORE_MIGRATION_VERSION = "8.8.0"
TYPE_MIGRATION_VERSIONS = {
    "index-pattern": "8.0.0",
    "search": "10.5.0",
    "visualization": "8.5.0",
    "dashboard": "10.2.0",
}

DATA_VIEW_ID = "lab-logs"
DATA_VIEW_TITLE = LOGS_INDEX_PATTERN
TIME_FIELD = "@timestamp"
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"

# Only the access log (not start-up/shut-down lines) counts as a call.
CALLS = f'event.dataset : "{ACCESS_DATASET}"'
CALL_COLUMNS = ("lab.function", "lab.arguments", "http.response.status_code", "event.duration")
NANOSECONDS_PER_MILLISECOND = 1_000_000


def _json(value: object) -> str:
    """Compact, key-sorted JSON: the string form Kibana stores, stable across renders."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _saved_object(kind: str, object_id: str, attributes: dict, references=()) -> dict:
    return {
        "attributes": attributes,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "id": object_id,
        "managed": False,
        "references": list(references),
        "type": kind,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS[kind],
    }


def _data_view_reference() -> dict:
    return {"id": DATA_VIEW_ID, "name": INDEX_REF, "type": "index-pattern"}


def _search_source(kuery: str) -> dict:
    """`kibanaSavedObjectMeta` pointing at the data view through its reference."""
    source = {
        "filter": [],
        "indexRefName": INDEX_REF,
        "query": {"language": "kuery", "query": kuery},
    }
    return {"searchSourceJSON": _json(source)}


def data_view() -> dict:
    """The data view over what Logstash writes; durations shown in milliseconds."""
    duration_ms = {
        "id": "duration",
        "params": {"inputFormat": "nanoseconds", "outputFormat": "asMilliseconds"},
    }
    return _saved_object(
        "index-pattern",
        DATA_VIEW_ID,
        {
            "fieldAttrs": _json({}),
            "fieldFormatMap": _json(
                {"event.duration": duration_ms, "lab.compute.duration": duration_ms}
            ),
            "fields": "[]",
            "name": "Lab logs",
            "runtimeFieldMap": _json({}),
            "sourceFilters": "[]",
            "timeFieldName": TIME_FIELD,
            "title": DATA_VIEW_TITLE,
        },
    )


def saved_search(
    object_id: str,
    title: str,
    description: str,
    kuery: str,
    columns: Sequence[str],
    sort: Sequence[tuple[str, str]] = ((TIME_FIELD, "desc"),),
) -> dict:
    """A Discover session: a query, the columns a reader scans, and an order."""
    return _saved_object(
        "search",
        object_id,
        {
            "columns": list(columns),
            "description": description,
            "grid": {},
            "hideChart": False,
            "isTextBasedQuery": False,
            "kibanaSavedObjectMeta": _search_source(kuery),
            "sort": [list(pair) for pair in sort],
            "timeRestore": False,
            "title": title,
        },
        [_data_view_reference()],
    )


def saved_searches(*, slow_call_ms: int) -> list[dict]:
    slow_ns = slow_call_ms * NANOSECONDS_PER_MILLISECOND
    return [
        saved_search(
            "lab-calls",
            "Lab: all calls",
            "Every function call: which function, with which arguments, answered how, how fast.",
            CALLS,
            CALL_COLUMNS,
        ),
        saved_search(
            "lab-errors",
            "Lab: errors",
            "Calls answered 4xx or 5xx, with the reason the service gave.",
            f"{CALLS} and http.response.status_code >= 400",
            (*CALL_COLUMNS, "error.message"),
        ),
        saved_search(
            "lab-slow-calls",
            f"Lab: calls slower than {slow_call_ms} ms",
            f"Calls whose handler took more than {slow_call_ms} ms (lab:slowCallMs), slowest "
            "first.",
            f"{CALLS} and event.duration > {slow_ns}",
            (*CALL_COLUMNS, "lab.compute.duration"),
            sort=(("event.duration", "desc"),),
        ),
    ]


def visualization(object_id: str, title: str, description: str, vis_state: dict) -> dict:
    """An aggregation-based visualization over the access log of the data view."""
    return _saved_object(
        "visualization",
        object_id,
        {
            "description": description,
            "kibanaSavedObjectMeta": _search_source(CALLS),
            "title": title,
            "uiStateJSON": _json({}),
            "version": 1,
            "visState": _json({"title": title, **vis_state}),
        },
        [_data_view_reference()],
    )


def visualizations() -> list[dict]:
    calls_over_time = {
        "type": "line",
        "aggs": [
            agg("1", "count", "metric"),
            agg(
                "2",
                "date_histogram",
                "segment",
                field=TIME_FIELD,
                interval="auto",
                min_doc_count=1,
                extended_bounds={},
            ),
            terms("3", "lab.function", "group"),
        ],
        "params": xy_params("line", "Calls", [("1", "Calls")]),
    }
    compute_duration = {
        "type": "histogram",
        "aggs": [
            agg("1", "percentiles", "metric", field="lab.compute.duration", percents=[50, 95, 99]),
            # By name: ordering by the percentiles agg is what Elasticsearch rejects.
            terms("2", "lab.function", "segment", order_by="_key", order="asc"),
        ],
        "params": xy_params("histogram", "Compute time (ns)", [("1", "Compute time")]),
    }
    status_codes = {
        "type": "pie",
        "aggs": [
            agg("1", "count", "metric"),
            # The pie's `split` schema is mustBeFirst: it precedes `segment`.
            terms("3", "lab.function", "split"),
            terms("2", "http.response.status_code", "segment", size=20),
        ],
        "params": {
            # 8.1.0's migration replaced `addLegend`; objects declared past it must use this.
            "legendDisplay": "show",
            "addTooltip": True,
            "isDonut": True,
            "labels": {"last_level": True, "show": True, "truncate": 100, "values": True},
            "legendPosition": "right",
            "row": True,
            "type": "pie",
        },
    }
    return [
        visualization(
            "lab-calls-per-function",
            "Lab: calls per function over time",
            "How many calls each function served; a gap means no traffic or no logs.",
            calls_over_time,
        ),
        visualization(
            "lab-compute-duration",
            "Lab: compute time per function",
            "Median, p95 and p99 time spent in the pure function (lab.compute.duration).",
            compute_duration,
        ),
        visualization(
            "lab-status-codes",
            "Lab: status codes",
            "Answers by HTTP status for each function: how much is 200, 400, 404.",
            status_codes,
        ),
    ]


def dashboard(panel_objects: Sequence[dict]) -> dict:
    """A dashboard holding the given visualizations and saved searches, two per line."""
    panels, references = [], []
    for number, saved in enumerate(panel_objects):
        index = f"panel-{number + 1}"
        width, height = 24, 15
        panels.append(
            {
                "embeddableConfig": {},
                "gridData": {
                    "h": height,
                    "i": index,
                    "w": width,
                    "x": (number % 2) * width,
                    "y": (number // 2) * height,
                },
                "panelIndex": index,
                "panelRefName": f"panel_{index}",
                "type": saved["type"],
            }
        )
        references.append(
            {"id": saved["id"], "name": f"{index}:panel_{index}", "type": saved["type"]}
        )
    return _saved_object(
        "dashboard",
        "lab-logs-overview",
        {
            "description": "Calls, compute time and status codes of the lab's function services, "
            "with the error and slow-call lists underneath.",
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": _json(
                    {"filter": [], "query": {"language": "kuery", "query": ""}}
                )
            },
            "optionsJSON": _json(
                {
                    "hidePanelTitles": False,
                    "syncColors": False,
                    "syncCursor": True,
                    "useMargins": True,
                }
            ),
            "panelsJSON": _json(panels),
            "timeFrom": "now-1h",
            "timeRestore": True,
            "timeTo": "now",
            "title": "Lab logs",
            "version": 1,
        },
        references,
    )


def objects(*, slow_call_ms: int) -> list[dict]:
    """Every saved object, each before whatever refers to it (the order an export uses)."""
    searches = saved_searches(slow_call_ms=slow_call_ms)
    charts = visualizations()
    by_id = {o["id"]: o for o in searches}
    board = dashboard([*charts, by_id["lab-errors"], by_id["lab-slow-calls"]])
    return [data_view(), *searches, *charts, board]


def render(*, slow_call_ms: int) -> str:
    """The NDJSON file for `POST /api/saved_objects/_import`: one object per line."""
    return "".join(_json(o) + "\n" for o in objects(slow_call_ms=slow_call_ms))
