"""Grafana, Elasticsearch, Logstash and Kibana, checked through their documented APIs.

These parts cannot run on the machines that build this project (no image can be pulled), so
here they are deselected by the stack's declared parts; on a user's machine (`make verify`
against a stack with metrics and logs on) they run. Each test asks `require_part(...)`, which
skips only when the target stack does not declare that part; an unreachable API fails.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from tests.live.fixtures import LiveLab

pytestmark = pytest.mark.live
FUNCTIONS = ("fibonacci", "factorial", "ackermann")


def container_env(lab: LiveLab, name: str) -> dict[str, str]:
    """The running container's environment (secrets are only known to the deployment)."""
    pairs = lab.client.api.inspect_container(name)["Config"]["Env"] or []
    return dict(pair.split("=", 1) for pair in pairs)


def grafana(lab: LiveLab, path: str, **kwargs) -> requests.Response:
    env = container_env(lab, lab.the_container("grafana"))
    auth = (env.get("GF_SECURITY_ADMIN_USER", "admin"), env["GF_SECURITY_ADMIN_PASSWORD"])
    return requests.get(lab.url("api") + "/grafana" + path, auth=auth, timeout=10, **kwargs)


def test_grafana_is_healthy(lab: LiveLab, require_part):
    require_part("grafana")
    response = requests.get(lab.url("api") + "/grafana/api/health", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["database"] == "ok"


def test_grafana_has_the_provisioned_prometheus_datasource(lab: LiveLab, require_part):
    require_part("grafana")
    response = grafana(lab, "/api/datasources/uid/prometheus")
    assert response.status_code == 200, response.text
    source = response.json()
    assert (source["name"], source["type"]) == ("Prometheus", "prometheus")
    assert source["url"] == "http://prometheus:9090"
    health = grafana(lab, "/api/datasources/uid/prometheus/health")
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "OK"


def test_grafana_has_the_generated_dashboards(lab: LiveLab, require_part):
    require_part("grafana")
    from dashboards.grafana import overview

    expected_uid = overview.build(FUNCTIONS)["uid"]
    response = grafana(lab, "/api/search", params={"tag": "generated"})
    assert response.status_code == 200, response.text
    found = {item["uid"]: item for item in response.json()}
    assert expected_uid in found, sorted(found)
    assert found[expected_uid].get("folderTitle") == "Lab"


def test_elasticsearch_cluster_is_usable(lab: LiveLab, require_part):
    require_part("elasticsearch")
    response = requests.get(lab.url("elasticsearch") + "/_cluster/health", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["status"] in ("green", "yellow")


def test_logs_of_calls_just_made_reach_elasticsearch(lab: LiveLab, require_part):
    require_part("elasticsearch")
    require_part("logstash")
    # An argument no other call uses, so the search finds this test's lines only.
    argument = str(int(uuid.uuid4().int % 300) + 50)
    path = f"/factorial/{argument}/"
    for _ in range(3):
        assert requests.get(lab.url("api") + path, timeout=10).status_code == 200
    query = {
        "query": {
            "bool": {
                "filter": [{"term": {"url.path": path}}, {"term": {"lab.function": "factorial"}}]
            }
        }
    }
    deadline, hits = time.monotonic() + 90, []
    while time.monotonic() < deadline:
        response = requests.post(
            lab.url("elasticsearch") + "/lab-logs-*/_search", json=query, timeout=10
        )
        assert response.status_code == 200, response.text
        hits = response.json()["hits"]["hits"]
        if len(hits) >= 3:
            break
        time.sleep(2)
    assert len(hits) >= 3, f"{len(hits)} log documents for {path} in lab-logs-*"
    document = hits[0]["_source"]
    assert document["http"]["response"]["status_code"] == 200
    assert document["service"]["name"] == "lab-factorial"
    assert document["container"]["name"]
    assert hits[0]["_index"].startswith("lab-logs-")


def test_logstash_pipeline_is_running(lab: LiveLab, require_part, container_host):
    require_part("logstash")
    # The monitoring API (9600) is not published; ask it from inside the container.
    host = container_host(lab.the_container("logstash"))
    pipelines = json.loads(host.check_output("curl -fsS http://localhost:9600/_node/pipelines"))
    assert pipelines["pipelines"], pipelines
    stats = json.loads(host.check_output("curl -fsS http://localhost:9600/_node/stats/pipelines"))
    for pipeline_id in pipelines["pipelines"]:
        assert pipeline_id in stats["pipelines"], stats


def test_kibana_is_available(lab: LiveLab, require_part):
    require_part("kibana")
    response = requests.get(lab.url("api") + "/kibana/api/status", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["status"]["overall"]["level"] == "available"


def test_kibana_has_the_imported_saved_objects(lab: LiveLab, require_part):
    require_part("kibana")
    from dashboards import kibana

    slow_call_ms = int(lab.config.get("lab:slowCallMs", 5))
    expected = {
        (o["type"], o["id"])
        for o in map(json.loads, kibana.render(slow_call_ms=slow_call_ms).splitlines())
        if "id" in o
    }
    types = sorted({kind for kind, _ in expected})
    response = requests.get(
        lab.url("api") + "/kibana/api/saved_objects/_find",
        params={"type": types, "per_page": 1000},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    found = {(o["type"], o["id"]): o for o in response.json()["saved_objects"]}
    assert expected <= set(found), sorted(expected - set(found))
    assert found[("index-pattern", "lab-logs")]["attributes"]["title"] == "lab-logs-*"
