"""Kibana objects beside the logs: the alert events Alertmanager's webhook writes (data view
and the "Lab: alerts" search) and the "Lab logs" dashboard's link back to Grafana."""

from dashboards import grafana_overview, kibana_links
from dashboards.alert_events import ALERTS_INDEX_PATTERN
from dashboards.kibana_saved import (
    TIME_FIELD,
    saved_object,
    to_json,
)
from dashboards.kibana_saved import data_view as _data_view
from dashboards.kibana_saved import saved_search as _saved_search

DATA_VIEW_ID = "lab-alerts"
SEARCH_ID = "lab-alert-events"
LINK_ID = "lab-grafana-link"
# What a reader scans first: which alert, firing or resolved, for which function, how bad.
COLUMNS = ("alert.name", "alert.status", "lab.function", "alert.severity", "alert.summary")


def data_view() -> dict:
    """The data view over the alerts index (dashboards/alert_events.py)."""
    return _data_view(DATA_VIEW_ID, "Lab alerts", ALERTS_INDEX_PATTERN)


def saved_search() -> dict:
    """ "Lab: alerts": every notification, firing and resolved, newest first."""
    return _saved_search(
        SEARCH_ID,
        "Lab: alerts",
        "Every alert Alertmanager sent, firing and resolved, with its function and summary: "
        "filter on lab.function to see it beside the calls of the same function.",
        "",
        COLUMNS,
        ((TIME_FIELD, "desc"),),
        data_view_id=DATA_VIEW_ID,
    )


def grafana_link(grafana_url: str) -> dict:
    """A markdown panel linking to Grafana's "Lab overview" at its public URL."""
    url = kibana_links.grafana_dashboard_url(grafana_url, grafana_overview.UID)
    text = (
        f"**Metrics of the same calls:** [Grafana: {grafana_overview.TITLE}]({url}) "
        "(request rates, errors, latency, alerts, the host)."
    )
    title = "Lab: link to Grafana"
    state = {
        "title": title,
        "type": "markdown",
        "aggs": [],
        "params": {"fontSize": 12, "markdown": text, "openLinksInNewTab": False},
    }
    return saved_object(
        "visualization",
        LINK_ID,
        {
            "description": "Opens Grafana's overview of the same lab.",
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": to_json(
                    {"filter": [], "query": {"language": "kuery", "query": ""}}
                )
            },
            "title": title,
            "uiStateJSON": to_json({}),
            "version": 1,
            "visState": to_json(state),
        },
    )
