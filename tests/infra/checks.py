"""The checks of Grafana, Elasticsearch, Logstash and Kibana, as plain functions of URLs.

Written from each product's documented HTTP API for the pinned versions (docs/contract.md).
tests/infra/test_infra_optional.py runs them against a live stack that has those parts;
tests/infra/test_checks.py runs them in CI against local servers that answer
as the documentation says, healthy and not, so each check is proven to pass and to fail.
Every check raises AssertionError with the answer it did not accept.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable

import requests

TIMEOUT = 10


def _json(response: requests.Response) -> object:
    assert response.status_code == 200, (
        f"{response.request.url}: {response.status_code} {response.text}"
    )
    return response.json()


def grafana_health(grafana_url: str) -> None:
    """GET /api/health (no auth): 200 and `database: ok`."""
    health = _json(requests.get(f"{grafana_url}/api/health", timeout=TIMEOUT))
    assert health.get("database") == "ok", health


def grafana_datasource(grafana_url: str, auth: tuple[str, str], prometheus_url: str) -> None:
    """The provisioned datasource (uid `prometheus`) exists, points at Prometheus and works."""
    source = _json(
        requests.get(f"{grafana_url}/api/datasources/uid/prometheus", auth=auth, timeout=TIMEOUT)
    )
    assert (source.get("name"), source.get("type")) == ("Prometheus", "prometheus"), source
    assert source.get("url") == prometheus_url, source
    health = _json(
        requests.get(
            f"{grafana_url}/api/datasources/uid/prometheus/health", auth=auth, timeout=TIMEOUT
        )
    )
    assert health.get("status") == "OK", health


def grafana_dashboards(grafana_url: str, auth: tuple[str, str], uids: Iterable[str]) -> None:
    """Every generated dashboard is found by its tag, in the provisioned folder `Lab`."""
    found = _json(
        requests.get(
            f"{grafana_url}/api/search", params={"tag": "generated"}, auth=auth, timeout=TIMEOUT
        )
    )
    by_uid = {item.get("uid"): item for item in found}
    for uid in uids:
        assert uid in by_uid, f"dashboard {uid} not among {sorted(by_uid)}"
        assert by_uid[uid].get("folderTitle") == "Lab", by_uid[uid]


Auth = tuple[str, str] | None  # (user, password) where security asks for a login


def elasticsearch_health(elasticsearch_url: str, auth: Auth = None) -> None:
    """GET /_cluster/health: green, or yellow (one node cannot hold a replica)."""
    answer = requests.get(f"{elasticsearch_url}/_cluster/health", auth=auth, timeout=TIMEOUT)
    health = _json(answer)
    assert health.get("status") in ("green", "yellow"), health


def logs_reach_elasticsearch(
    api_url: str,
    elasticsearch_url: str,
    path: str,
    *,
    calls: int = 3,
    wait: float = 90,
    auth: Auth = None,
) -> None:
    """Call `path` (a factorial call no one else makes) through Traefik `calls` times, then
    wait for that many log documents in `lab-logs-*`, shaped as docs/contract.md says."""
    for _ in range(calls):
        answer = requests.get(api_url + path, timeout=TIMEOUT)
        assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text}"
    query = {
        "query": {
            "bool": {
                "filter": [{"term": {"url.path": path}}, {"term": {"lab.function": "factorial"}}]
            }
        }
    }
    deadline, hits = time.monotonic() + wait, []
    while True:
        result = _json(
            requests.post(
                f"{elasticsearch_url}/lab-logs-*/_search", json=query, auth=auth, timeout=TIMEOUT
            )
        )
        hits = result["hits"]["hits"]
        if len(hits) >= calls or time.monotonic() > deadline:
            break
        time.sleep(min(2.0, wait))
    assert len(hits) >= calls, f"{len(hits)} log documents for {path} in lab-logs-*"
    document = hits[0]["_source"]
    assert document["http"]["response"]["status_code"] == 200, document
    assert document["service"]["name"] == "lab-factorial", document
    assert document["container"]["name"], document
    assert hits[0]["_index"].startswith("lab-logs-"), hits[0]["_index"]


def logstash_pipelines(fetch: Callable[[str], str]) -> None:
    """Logstash's monitoring API (port 9600, read through `fetch(path)`): at least one
    pipeline is loaded, and each one has stats, i.e. it is running."""
    pipelines = json.loads(fetch("/_node/pipelines")).get("pipelines") or {}
    assert pipelines, "Logstash runs no pipeline"
    stats = json.loads(fetch("/_node/stats/pipelines")).get("pipelines") or {}
    for pipeline_id in pipelines:
        assert pipeline_id in stats, f"pipeline {pipeline_id} has no stats: {sorted(stats)}"


def kibana_available(kibana_url: str) -> None:
    """GET /api/status: the overall level is `available` (Kibana 8.x status format)."""
    status = _json(requests.get(f"{kibana_url}/api/status", timeout=TIMEOUT))
    level = status.get("status", {}).get("overall", {}).get("level")
    assert level == "available", f"Kibana overall status {level!r}"


def kibana_saved_objects(
    kibana_url: str, expected: set[tuple[str, str]], data_view: str, auth: Auth = None
) -> None:
    """GET /api/saved_objects/_find: every imported (type, id) exists; the data view's title."""
    types = sorted({kind for kind, _ in expected})
    found = _json(
        requests.get(
            f"{kibana_url}/api/saved_objects/_find",
            params={"type": types, "per_page": 1000},
            auth=auth,
            timeout=TIMEOUT,
        )
    )
    objects = {(o["type"], o["id"]): o for o in found["saved_objects"]}
    assert expected <= set(objects), f"not imported: {sorted(expected - set(objects))}"
    title = objects[("index-pattern", "lab-logs")]["attributes"]["title"]
    assert title == data_view, title
