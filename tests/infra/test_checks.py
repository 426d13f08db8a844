"""The Grafana, Elasticsearch, Logstash and Kibana checks of `make verify`, run in CI.

Those products cannot run on the build machines, so each check in tests/infra/checks.py is
run here against a local HTTP server (tests/support/standins.py) answering as the product's
API documentation describes for the pinned version (response shapes below), once healthy,
where the check must pass, and once in each documented unhealthy state, where it must fail.
The server also records what the check asked, so a wrong path, query or missing credential
fails too.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from app.contract import FUNCTIONS, LOGS_INDEX_PATTERN
from dashboards import grafana_overview, kibana_objects
from tests.infra import checks
from tests.support.standins import FakeApi, Request, running_api

AUTH = ("admin", "s3cret-from-pulumi")
PROMETHEUS = "http://prometheus:9090"


@pytest.fixture
def api():
    with running_api() as fake:
        yield fake


def basic_auth_sent(request: Request) -> bool:
    """The admin's credentials, as HTTP basic auth."""
    expected = base64.b64encode(":".join(AUTH).encode()).decode()
    return request.headers.get("authorization") == f"Basic {expected}"


# -- Grafana 11.6 HTTP API -----------------------------------------------------------------

GRAFANA_HEALTH = {"commit": "0000000", "database": "ok", "version": "11.6.5"}
DATASOURCE = {
    "id": 1,
    "uid": "prometheus",
    "orgId": 1,
    "name": "Prometheus",
    "type": "prometheus",
    "access": "proxy",
    "url": PROMETHEUS,
    "isDefault": True,
    "readOnly": True,
}
DATASOURCE_HEALTH = {"status": "OK", "message": "Successfully queried the Prometheus API."}


def search_hit(uid: str, folder: str) -> dict:
    return {
        "id": 2,
        "uid": uid,
        "title": "Lab overview",
        "type": "dash-db",
        "tags": ["generated"],
        "folderUid": folder.lower(),
        "folderTitle": folder,
        "url": f"/grafana/d/{uid}/lab-overview",
    }


def test_grafana_health_passes_when_its_database_is_ok(api):
    api.answer("GET", "/api/health", 200, GRAFANA_HEALTH)
    checks.grafana_health(api.url)
    assert api.asked("GET", "/api/health")


def test_grafana_health_fails_when_its_database_fails(api):
    api.answer("GET", "/api/health", 503, {**GRAFANA_HEALTH, "database": "failing"})
    with pytest.raises(AssertionError, match="503"):
        checks.grafana_health(api.url)


def provision_datasource(api: FakeApi, source: dict, health: dict) -> None:
    def guarded(body: object) -> Callable[[Request], tuple[int, object]]:
        # Grafana answers 401 to an API call without credentials.
        return lambda r: (200, body) if basic_auth_sent(r) else (401, {"message": "Unauthorized"})

    api.routes[("GET", "/api/datasources/uid/prometheus")] = guarded(source)
    api.routes[("GET", "/api/datasources/uid/prometheus/health")] = guarded(health)


def test_grafana_datasource_passes_with_the_provisioned_prometheus(api):
    provision_datasource(api, DATASOURCE, DATASOURCE_HEALTH)
    checks.grafana_datasource(api.url, AUTH, PROMETHEUS)
    assert all(basic_auth_sent(r) for r in api.requests)


@pytest.mark.parametrize(
    ("source", "health"),
    [
        ({**DATASOURCE, "url": "http://localhost:9090"}, DATASOURCE_HEALTH),
        ({**DATASOURCE, "type": "loki"}, DATASOURCE_HEALTH),
        (DATASOURCE, {"status": "ERROR", "message": "connection refused"}),
    ],
    ids=["wrong-url", "wrong-type", "unhealthy"],
)
def test_grafana_datasource_fails_when_it_is_not_the_provisioned_one(api, source, health):
    provision_datasource(api, source, health)
    with pytest.raises(AssertionError):
        checks.grafana_datasource(api.url, AUTH, PROMETHEUS)


def test_grafana_datasource_fails_with_the_wrong_password(api):
    provision_datasource(api, DATASOURCE, DATASOURCE_HEALTH)
    with pytest.raises(AssertionError, match="401"):
        checks.grafana_datasource(api.url, ("admin", "admin"), PROMETHEUS)


def test_grafana_dashboards_are_searched_by_the_generated_tag(api):
    uid = grafana_overview.build(FUNCTIONS)["uid"]
    api.answer("GET", "/api/search", 200, [search_hit(uid, "Lab")])
    checks.grafana_dashboards(api.url, AUTH, [uid])
    [request] = api.asked("GET", "/api/search")
    assert request.query == {"tag": ["generated"]}
    assert basic_auth_sent(request)


@pytest.mark.parametrize("hits", [[], [search_hit("lab-overview", "General")]])
def test_grafana_dashboards_fail_when_missing_or_outside_the_lab_folder(api, hits):
    api.answer("GET", "/api/search", 200, hits)
    with pytest.raises(AssertionError):
        checks.grafana_dashboards(api.url, AUTH, ["lab-overview"])


# -- Elasticsearch 8.19 --------------------------------------------------------------------


def cluster_health(status: str) -> dict:
    return {
        "cluster_name": "lab",
        "status": status,
        "timed_out": False,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": 3,
        "unassigned_shards": 0,
    }


@pytest.mark.parametrize("status", ["green", "yellow"])
def test_elasticsearch_health_accepts_green_and_yellow(api, status):
    api.answer("GET", "/_cluster/health", 200, cluster_health(status))
    checks.elasticsearch_health(api.url)


def test_elasticsearch_health_fails_when_red(api):
    api.answer("GET", "/_cluster/health", 200, cluster_health("red"))
    with pytest.raises(AssertionError, match="red"):
        checks.elasticsearch_health(api.url)


def log_document(path: str, index: str = "lab-logs-2026.11.28") -> dict:
    """A search hit as Logstash indexes an access line (docs/contract.md)."""
    return {
        "_index": index,
        "_id": "x",
        "_source": {
            "@timestamp": "2026-11-28T12:00:00.000Z",
            "http": {"response": {"status_code": 200}},
            "url": {"path": path},
            "lab": {"function": "factorial"},
            "service": {"name": "lab-factorial"},
            "container": {"name": "lab-dev-factorial-1"},
        },
    }


def serve_logs(api: FakeApi, *, lost: int = 0, index: str = "lab-logs-2026.11.28") -> None:
    """The API counts calls; Elasticsearch finds one document per call (minus `lost`) that
    matches the query's url.path term."""

    def search(request: Request) -> tuple[int, object]:
        filters = request.body["query"]["bool"]["filter"]
        [path] = [f["term"]["url.path"] for f in filters if "url.path" in f["term"]]
        found = max(0, len(api.asked("GET", path)) - lost)
        hits = [log_document(path, index) for _ in range(found)]
        return 200, {"took": 1, "timed_out": False, "hits": {"hits": hits}}

    api.routes[("GET", "/factorial/77/")] = lambda _r: (200, {"result": "..."})
    api.routes[("POST", "/lab-logs-*/_search")] = search


def test_logs_check_finds_one_document_per_call(api):
    serve_logs(api)
    checks.logs_reach_elasticsearch(api.url, api.url, "/factorial/77/", wait=0)
    assert len(api.asked("GET", "/factorial/77/")) == 3


@pytest.mark.parametrize(("lost", "index"), [(1, "lab-logs-2026.11.28"), (0, "logstash-x")])
def test_logs_check_fails_when_a_line_is_lost_or_lands_elsewhere(api, lost, index):
    serve_logs(api, lost=lost, index=index)
    with pytest.raises(AssertionError):
        checks.logs_reach_elasticsearch(api.url, api.url, "/factorial/77/", wait=0)


# -- Logstash 8.19 monitoring API ----------------------------------------------------------

PIPELINES = {"id": "node", "pipelines": {"main": {"workers": 2, "batch_size": 125}}}
PIPELINE_STATS = {"id": "node", "pipelines": {"main": {"events": {"in": 12, "out": 12}}}}


def fetcher(api: FakeApi) -> Callable[[str], str]:
    import requests

    return lambda path: requests.get(api.url + path, timeout=5).text


def test_logstash_check_passes_when_each_pipeline_has_stats(api):
    api.answer("GET", "/_node/pipelines", 200, PIPELINES)
    api.answer("GET", "/_node/stats/pipelines", 200, PIPELINE_STATS)
    checks.logstash_pipelines(fetcher(api))


@pytest.mark.parametrize(
    ("pipelines", "stats"),
    [({"pipelines": {}}, PIPELINE_STATS), (PIPELINES, {"pipelines": {"other": {}}})],
    ids=["no-pipeline", "not-running"],
)
def test_logstash_check_fails_without_a_running_pipeline(api, pipelines, stats):
    api.answer("GET", "/_node/pipelines", 200, pipelines)
    api.answer("GET", "/_node/stats/pipelines", 200, stats)
    with pytest.raises(AssertionError):
        checks.logstash_pipelines(fetcher(api))


# -- Kibana 8.19 ---------------------------------------------------------------------------


def kibana_status(level: str) -> dict:
    return {
        "name": "kibana",
        "version": {"number": "8.19.4"},
        "status": {
            "overall": {"level": level, "summary": f"All services are {level}"},
            "core": {},
            "plugins": {},
        },
    }


def test_kibana_check_passes_when_available(api):
    api.answer("GET", "/api/status", 200, kibana_status("available"))
    checks.kibana_available(api.url)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, kibana_status("degraded")),
        (503, kibana_status("unavailable")),
        (503, {"message": "Kibana server is not ready yet"}),
    ],
    ids=["degraded", "unavailable", "not-ready"],
)
def test_kibana_check_fails_until_available(api, status, body):
    api.answer("GET", "/api/status", status, body)
    with pytest.raises(AssertionError):
        checks.kibana_available(api.url)


OBJECTS = kibana_objects.objects(slow_call_ms=5)
EXPECTED = {(o["type"], o["id"]) for o in OBJECTS}


def serve_saved_objects(api: FakeApi, objects: list[dict]) -> None:
    def find(request: Request) -> tuple[int, object]:
        kinds = set(request.query.get("type", []))
        found = [o for o in objects if o["type"] in kinds]
        return 200, {"page": 1, "per_page": 1000, "total": len(found), "saved_objects": found}

    api.routes[("GET", "/api/saved_objects/_find")] = find


def test_kibana_saved_objects_check_finds_every_imported_object(api):
    serve_saved_objects(api, OBJECTS)
    checks.kibana_saved_objects(api.url, EXPECTED, LOGS_INDEX_PATTERN)
    [request] = api.asked("GET", "/api/saved_objects/_find")
    assert set(request.query["type"]) == {kind for kind, _ in EXPECTED}
    assert request.query["per_page"] == ["1000"]


def test_kibana_saved_objects_check_fails_when_one_is_missing(api):
    serve_saved_objects(api, [o for o in OBJECTS if o["type"] != "dashboard"])
    with pytest.raises(AssertionError, match="dashboard"):
        checks.kibana_saved_objects(api.url, EXPECTED, LOGS_INDEX_PATTERN)


def test_kibana_saved_objects_check_fails_on_another_data_view(api):
    other = [
        {**o, "attributes": {**o["attributes"], "title": "logstash-*"}}
        if o["type"] == "index-pattern"
        else o
        for o in OBJECTS
    ]
    serve_saved_objects(api, other)
    with pytest.raises(AssertionError, match="logstash"):
        checks.kibana_saved_objects(api.url, EXPECTED, LOGS_INDEX_PATTERN)
