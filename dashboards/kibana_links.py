"""Links between Grafana and Kibana, built from the public URLs a person's browser reaches.

Grafana's per-function panels open Kibana's saved searches filtered to the function and the
panel's time range; Kibana's "Lab logs" dashboard links back to "Lab overview". Both sides only
build URLs here, so a changed path or search id is one edit.
"""

from __future__ import annotations

# The saved searches a metric panel opens (dashboards/kibana_objects.py saved_searches()).
ERRORS_SEARCH = "lab-errors"
CALLS_SEARCH = "lab-calls"
# The saved search an exemplar opens: every line of one call (Traefik's and the replica's).
ONE_REQUEST_SEARCH = "lab-one-request"
# The field both lines of a call carry its W3C trace id in (app.contract LOG_FIELD_TYPES).
TRACE_FIELD = "trace.id"
# Grafana's data-link variable for the clicked value, uninterpolated (an exemplar's trace id).
CLICKED_VALUE = "${__value.raw}"
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


def trace_url(
    kibana_url: str,
    trace_id: str = CLICKED_VALUE,
    *,
    time_from: str = PANEL_FROM,
    time_to: str = PANEL_TO,
) -> str:
    """Kibana Discover with the "Lab: one request" search, only the lines of trace `trace_id`
    (Grafana's clicked exemplar by default), over the panel's time range by default.

    Kibana's Discover locator (discover plugin, common/app_locator_get_location.ts) puts a
    saved search at `#/view/<id>`, the time range in the global state `_g`, the query in the
    app state `_a` (Rison), where it replaces the saved search's own query. Encoded as Kibana's
    setStateToKbnUrl does (encodeUriQuery: encodeURIComponent, then `:` `,` `$` `@` `;` kept),
    so the KQL phrase's double quotes travel as %22."""
    time = f"time:(from:'{time_from}',to:'{time_to}')"
    query = f"query:(language:kuery,query:'{TRACE_FIELD}:%22{trace_id}%22')"
    return (
        f"{kibana_url.rstrip('/')}/app/discover#/view/{ONE_REQUEST_SEARCH}?_g=({time})&_a=({query})"
    )


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
