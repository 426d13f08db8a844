"""From an exemplar to its call's log lines: the Grafana datasource's exemplar link, read as
Grafana reads its provisioning file, opened as Kibana Discover reads its URL.

- Grafana (v11.6.x) expands environment variables in every string of a provisioning file,
  `$$` standing for `$` (pkg/services/provisioning/values/values.go interpolateValue:
  split on `$$`, Go's os.ExpandEnv on each part, join with `$`; golang/go src/os/env.go
  Expand and getShellName for what a `$` takes). Its exemplar link is
  ExemplarTraceIdDestination {name, url, urlDisplayLabel}
  (packages/grafana-prometheus/src/result_transformer.ts getDataLinks), the clicked value in
  `${__value.raw}`.
- Kibana (8.19) Discover's locator (discover plugin, common/app_locator_get_location.ts)
  builds `#/view/<saved search id>` with the global state `_g` (time range, pinned filters)
  and the app state `_a` (query, filters, columns, ...) in Rison, percent-encoded in the
  query string; constants.ts names the keys `_g` and `_a`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import yaml

from app.contract import EXEMPLAR_TRACE_LABEL
from dashboards import kibana_links, kibana_objects
from stack.configs import grafana_provisioning
from tests.dashboards import kibana_walk, rison

KIBANA = "http://127.0.0.1:8000/kibana"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"  # W3C Trace Context 3.2.3's example
FROM, TO = "2026-12-06T14:00:00.000Z", "2026-12-06T15:00:00.000Z"


def go_expand_env(text: str, env: dict[str, str]) -> str:
    """Go's os.ExpandEnv: `${name}` and `$name` replaced (unset: empty); `${}` and an
    unclosed `${` eaten; a `$` before anything else kept."""
    out, i = [], 0
    while i < len(text):
        if text[i] != "$" or i + 1 == len(text):
            out.append(text[i])
            i += 1
            continue
        rest = text[i + 1 :]
        if rest[0] == "{":
            close = rest.find("}")
            if close == -1:
                i += 2  # bad syntax: "${" eaten
                continue
            name, width = rest[1:close], close + 1
            if not name:
                i += 1 + width
                continue
        elif rest[0] in "*#$@!?-0123456789":
            name, width = rest[0], 1
        else:
            name = re.match(r"[A-Za-z0-9_]*", rest).group(0)
            width = len(name)
            if not name:
                out.append("$")
                i += 1
                continue
        out.append(env.get(name, ""))
        i += 1 + width
    return "".join(out)


def grafana_interpolate(value: str, env: dict[str, str]) -> str:
    return "$".join(go_expand_env(part, env) for part in value.split("$$"))


def provisioned_link() -> dict:
    document = yaml.safe_load(grafana_provisioning.datasources(kibana_url=KIBANA))
    [prometheus] = [d for d in document["datasources"] if d["type"] == "prometheus"]
    [link] = prometheus["jsonData"]["exemplarTraceIdDestinations"]
    return link


def test_no_kibana_means_no_exemplar_link():
    document = yaml.safe_load(grafana_provisioning.datasources())
    [prometheus] = [d for d in document["datasources"] if d["type"] == "prometheus"]
    assert "exemplarTraceIdDestinations" not in prometheus["jsonData"]


def test_exemplar_link_survives_grafanas_env_expansion():
    link = provisioned_link()
    assert link["name"] == EXEMPLAR_TRACE_LABEL
    env = {"HOME": "/usr/share/grafana", "__value": "leaked"}
    loaded = grafana_interpolate(link["url"], env)
    assert loaded == kibana_links.trace_url(KIBANA)
    assert "${__value.raw}" in loaded
    # The model bites: written without the doubling, the placeholder would be gone.
    assert "${__value.raw}" not in grafana_interpolate(kibana_links.trace_url(KIBANA), env)


def opened(url: str) -> tuple[str, str, dict[str, object]]:
    """(Discover's app path, the hash route, the decoded `_g`/`_a` states) of a clicked link,
    after Grafana put the exemplar's trace id and the panel's time range in."""
    clicked = (
        url.replace("${__value.raw}", TRACE_ID)
        .replace("${__from:date:iso}", FROM)
        .replace("${__to:date:iso}", TO)
    )
    assert "${" not in clicked, clicked
    parts = urlsplit(clicked)
    route, _, query = parts.fragment.partition("?")
    states = {key: rison.loads(values[0]) for key, values in parse_qs(query).items()}
    return parts.path, route, states


def test_link_opens_the_one_request_search_on_the_trace():
    link = provisioned_link()
    path, route, states = opened(grafana_interpolate(link["url"], {}))
    assert path == "/kibana/app/discover"
    saved = {o["id"]: o for o in kibana_walk.parse_objects(kibana_objects.render(slow_call_ms=5))}
    match = re.fullmatch(r"/view/([^/?]+)", route)
    assert match, route
    assert saved[match[1]]["type"] == "search"
    assert saved[match[1]]["attributes"]["title"] == "Lab: one request"
    assert set(states) == {"_g", "_a"}
    assert states["_g"] == {"time": {"from": FROM, "to": TO}}
    assert states["_a"] == {"query": {"language": "kuery", "query": f'trace.id:"{TRACE_ID}"'}}


def test_link_query_finds_the_traces_lines_only():
    _, _, states = opened(kibana_links.trace_url(KIBANA))
    kuery = states["_a"]["query"]["query"]
    replica = {"trace.id": TRACE_ID, "service.name": "lab-fibonacci"}
    traefik = {"trace": {"id": TRACE_ID}, "service": {"name": "traefik"}}
    other = {"trace.id": "0af7651916cd43dd8448eb211c80319c"}
    assert kibana_walk.kql_matches(kuery, replica)
    assert kibana_walk.kql_matches(kuery, traefik)
    assert not kibana_walk.kql_matches(kuery, other)
    assert not kibana_walk.kql_matches(kuery, {"url.path": "/fibonacci/10/"})


def test_one_request_search_shows_trace_lines_with_the_id_as_a_column():
    saved = {o["id"]: o for o in kibana_walk.parse_objects(kibana_objects.render(slow_call_ms=5))}
    search = saved[kibana_links.ONE_REQUEST_SEARCH]
    assert kibana_links.TRACE_FIELD in search["attributes"]["columns"]
    kuery = kibana_walk.search_source(search)["query"]["query"]
    assert kibana_walk.kql_matches(kuery, {"trace.id": TRACE_ID})
    assert not kibana_walk.kql_matches(kuery, {"event.dataset": "lab.lifecycle"})
