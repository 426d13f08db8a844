"""Grafana, Elasticsearch, Logstash and Kibana, checked through their documented APIs.

These parts cannot run on the machines that build this project (no image can be pulled):
`make test` does not collect these tests for its harness stack (tests/infra/conftest.py
deselects a test whose parts the target stack does not declare, and says so), and runs the
same checks (tests/infra/checks.py) against local servers that answer as each API's
documentation says instead. On a user's machine, `make verify` against a stack with metrics
and logs on runs them for real; an unreachable API fails.
"""

from __future__ import annotations

import uuid

import pytest

from app.contract import FUNCTIONS, LOGS_INDEX_PATTERN
from stack.configs import grafana_provisioning, logstash_api
from stack.elasticsearch import ELASTIC_USER
from stack.elasticsearch import PASSWORD_FILE as ELASTIC_PASSWORD_FILE
from stack.grafana import ADMIN_PASSWORD_FILE as GRAFANA_PASSWORD_FILE
from stack.settings import LOGSTASH_API_PORT
from tests.infra import checks
from tests.support.live_lab import LiveLab

pytestmark = pytest.mark.live


def container_secret(lab: LiveLab, part: str, path: str) -> str:
    """A password file of a running part, read as the part's own user (it alone may: 0400).
    Passwords are never in a container's environment; the deployment alone knows them."""
    result = lab.client.containers.get(lab.the_container(part)).exec_run(["cat", path])
    assert result.exit_code == 0, f"{part}: cannot read {path}: {result.output!r}"
    return result.output.decode().strip()


def grafana_auth(lab: LiveLab) -> tuple[str, str]:
    return "admin", container_secret(lab, "grafana", GRAFANA_PASSWORD_FILE)


def elastic_auth(lab: LiveLab) -> tuple[str, str]:
    return ELASTIC_USER, container_secret(lab, "elasticsearch", ELASTIC_PASSWORD_FILE)


def grafana_url(lab: LiveLab) -> str:
    return lab.url("api") + "/grafana"


@pytest.mark.parts("grafana")
def test_grafana_is_healthy(lab: LiveLab):
    checks.grafana_health(grafana_url(lab))


@pytest.mark.parts("grafana")
def test_grafana_has_the_provisioned_prometheus_datasource(lab: LiveLab):
    checks.grafana_datasource(
        grafana_url(lab), grafana_auth(lab), grafana_provisioning.PROMETHEUS_URL
    )


@pytest.mark.parts("grafana")
def test_grafana_has_the_generated_dashboards(lab: LiveLab):
    from dashboards import grafana_overview

    expected = [grafana_overview.build(FUNCTIONS)["uid"]]
    checks.grafana_dashboards(grafana_url(lab), grafana_auth(lab), expected)


@pytest.mark.parts("elasticsearch")
def test_elasticsearch_cluster_is_usable(lab: LiveLab):
    checks.elasticsearch_health(lab.url("elasticsearch"), elastic_auth(lab))


@pytest.mark.parts("elasticsearch", "logstash")
def test_logs_of_calls_just_made_reach_elasticsearch(lab: LiveLab):
    # An argument no other call uses, so the search finds this test's lines only.
    path = f"/factorial/{uuid.uuid4().int % 300 + 50}/"
    checks.logs_reach_elasticsearch(
        lab.url("api"), lab.url("elasticsearch"), path, auth=elastic_auth(lab)
    )


@pytest.mark.parts("logstash")
def test_logstash_pipeline_is_running(lab: LiveLab, container_host):
    # The monitoring API is not published; ask it from inside the container, signed in with
    # the health check's curl config (its API asks a login: stack/configs/logstash_api.py).
    host = container_host(lab.the_container("logstash"))
    port, login = LOGSTASH_API_PORT, logstash_api.CURL_CONFIG_FILE
    checks.logstash_pipelines(
        lambda path: host.check_output(f"curl -fsS -K {login} http://localhost:{port}{path}")
    )


@pytest.mark.parts("kibana")
def test_kibana_is_available(lab: LiveLab):
    checks.kibana_available(lab.url("api") + "/kibana")


@pytest.mark.parts("kibana")
def test_kibana_has_the_imported_saved_objects(lab: LiveLab):
    from dashboards import kibana_objects

    slow_call_ms = lab.settings.slow_call_ms
    expected = {(o["type"], o["id"]) for o in kibana_objects.objects(slow_call_ms=slow_call_ms)}
    checks.kibana_saved_objects(
        lab.url("api") + "/kibana", expected, LOGS_INDEX_PATTERN, elastic_auth(lab)
    )
