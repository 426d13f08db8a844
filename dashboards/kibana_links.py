"""Links between Grafana and Kibana, built from the public URLs a person's browser reaches.

Grafana's per-function panels open Kibana's saved searches filtered to the function and the
panel's time range; Kibana's "Lab logs" dashboard links back to "Lab overview". Both sides only
build URLs here, so a changed path or search id is one edit.
"""

from __future__ import annotations

# The saved searches a metric panel opens (dashboards/kibana_objects.py saved_searches()).
ERRORS_SEARCH = "lab-errors"
CALLS_SEARCH = "lab-calls"
# The field every log line and alert event of a function carries (app.contract LOG_FIELD_TYPES).
FUNCTION_FIELD = "lab.function"
# Grafana's data-link variables for the panel's time range, as ISO 8601 (Kibana's `_g.time`).
PANEL_FROM = "${__from:date:iso}"
PANEL_TO = "${__to:date:iso}"


def _function_filter(function: str, data_view_id: str) -> str:
    """A phrase filter on the function, in Rison, pinned (global state): it applies on top of
    the saved search's own query and filters instead of replacing them, as `_a` would."""
    return (
        f"(meta:(alias:!n,disabled:!f,index:{data_view_id},key:{FUNCTION_FIELD},negate:!f,"
        f"params:(query:{function}),type:phrase),"
        f"query:(match_phrase:({FUNCTION_FIELD}:{function})),"
        "$state:(store:globalState))"
    )


def discover_url(
    kibana_url: str, search_id: str, function: str, *, data_view_id: str = "lab-logs"
) -> str:
    """Kibana Discover with saved search `search_id`, only `function`'s lines, over the
    Grafana panel's time range (`kibana_url` as the browser reaches it, e.g. .../kibana)."""
    time = f"time:(from:'{PANEL_FROM}',to:'{PANEL_TO}')"
    state = f"_g=(filters:!({_function_filter(function, data_view_id)}),{time})"
    return f"{kibana_url.rstrip('/')}/app/discover#/view/{search_id}?{state}"


def function_links(kibana_url: str | None, function: str) -> list[dict]:
    """Grafana data links of a function's panels (fieldConfig.defaults.links); none without a
    Kibana URL."""
    if kibana_url is None:
        return []
    return [
        {
            "title": f"Kibana: {title} of {function}",
            "url": discover_url(kibana_url, search_id, function),
            "targetBlank": True,
        }
        for search_id, title in ((ERRORS_SEARCH, "errors"), (CALLS_SEARCH, "all calls"))
    ]


def grafana_dashboard_url(grafana_url: str, uid: str) -> str:
    """A Grafana dashboard by uid (Grafana redirects /d/<uid> to its full path)."""
    return f"{grafana_url.rstrip('/')}/d/{uid}"
