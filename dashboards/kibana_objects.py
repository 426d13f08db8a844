"""Kibana saved objects for the lab's logs, as the NDJSON that Kibana's import API takes.

Targets Kibana 8.19 (the pinned image); the envelope and its migration versions are in
kibana_saved.py, the alert events' objects and the link back to Grafana in kibana_alerts.py.
"""

from collections.abc import Sequence

from app.contract import ACCESS_DATASET, LOGS_INDEX_PATTERN
from dashboards import kibana_alerts, kibana_links
from dashboards.kibana_charts import agg, terms, xy_params
from dashboards.kibana_saved import (
    CORE_MIGRATION_VERSION,
    TIME_FIELD,
    TYPE_MIGRATION_VERSIONS,
    data_view_reference,
    saved_object,
    search_source,
    to_json,
)
from dashboards.kibana_saved import data_view as _data_view
from dashboards.kibana_saved import saved_search as _saved_search

__all__ = ["CORE_MIGRATION_VERSION", "TYPE_MIGRATION_VERSIONS", "objects", "render"]

DATA_VIEW_ID = "lab-logs"
DATA_VIEW_TITLE = LOGS_INDEX_PATTERN

# Only the access log (not start-up/shut-down lines) counts as a call.
CALLS = f'event.dataset : "{ACCESS_DATASET}"'
CALL_COLUMNS = ("lab.function", "lab.arguments", "http.response.status_code", "event.duration")
NANOSECONDS_PER_MILLISECOND = 1_000_000


def data_view() -> dict:
    """The data view over what Logstash writes; durations shown in milliseconds."""
    duration_ms = {
        "id": "duration",
        "params": {"inputFormat": "nanoseconds", "outputFormat": "asMilliseconds"},
    }
    formats = {"event.duration": duration_ms, "lab.compute.duration": duration_ms}
    return _data_view(DATA_VIEW_ID, "Lab logs", DATA_VIEW_TITLE, formats)


def saved_search(*args, **kwargs) -> dict:
    """A saved search over the logs' data view (kibana_saved.saved_search)."""
    return _saved_search(*args, **kwargs, data_view_id=DATA_VIEW_ID)


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
        saved_search(
            kibana_links.ONE_REQUEST_SEARCH,
            "Lab: one request",
            "The lines of calls by their W3C trace id: Traefik's access line and the replica's, "
            "oldest first. Grafana's exemplars open it on one trace id.",
            f"{kibana_links.TRACE_FIELD} : *",
            (
                kibana_links.TRACE_FIELD,
                "service.name",
                "event.dataset",
                "url.path",
                "http.response.status_code",
                "event.duration",
            ),
            sort=((TIME_FIELD, "asc"),),
        ),
    ]


def visualization(object_id: str, title: str, description: str, vis_state: dict) -> dict:
    """An aggregation-based visualization over the access log of the data view."""
    return saved_object(
        "visualization",
        object_id,
        {
            "description": description,
            "kibanaSavedObjectMeta": search_source(CALLS),
            "title": title,
            "uiStateJSON": to_json({}),
            "version": 1,
            "visState": to_json({"title": title, **vis_state}),
        },
        [data_view_reference(DATA_VIEW_ID)],
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
    return saved_object(
        "dashboard",
        "lab-logs-overview",
        {
            "description": "Calls, compute time and status codes of the lab's function services, "
            "with the error and slow-call lists and the alerts underneath.",
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": to_json(
                    {"filter": [], "query": {"language": "kuery", "query": ""}}
                )
            },
            "optionsJSON": to_json(
                {
                    "hidePanelTitles": False,
                    "syncColors": False,
                    "syncCursor": True,
                    "useMargins": True,
                }
            ),
            "panelsJSON": to_json(panels),
            "timeFrom": "now-1h",
            "timeRestore": True,
            "timeTo": "now",
            "title": "Lab logs",
            "version": 1,
        },
        references,
    )


def objects(*, slow_call_ms: int, grafana_url: str | None = None) -> list[dict]:
    """Every saved object, each before whatever refers to it (the order an export uses).

    With `grafana_url` (Grafana's public URL, e.g. http://127.0.0.1:8000/grafana) the "Lab
    logs" dashboard opens with a link back to Grafana's "Lab overview"; None leaves it out.
    """
    searches = saved_searches(slow_call_ms=slow_call_ms)
    charts = visualizations()
    by_id = {o["id"]: o for o in searches}
    alerts_view, alerts = kibana_alerts.data_view(), kibana_alerts.saved_search()
    links = [] if grafana_url is None else [kibana_alerts.grafana_link(grafana_url)]
    board = dashboard([*links, *charts, by_id["lab-errors"], by_id["lab-slow-calls"], alerts])
    return [data_view(), alerts_view, *searches, alerts, *links, *charts, board]


def render(*, slow_call_ms: int, grafana_url: str | None = None) -> str:
    """The NDJSON file for `POST /api/saved_objects/_import`: one object per line."""
    saved = objects(slow_call_ms=slow_call_ms, grafana_url=grafana_url)
    return "".join(to_json(o) + "\n" for o in saved)
