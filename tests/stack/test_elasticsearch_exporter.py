"""stack/elasticsearch_exporter.py: scraped by Prometheus, signed in without a password in sight."""

from __future__ import annotations

from stack import elasticsearch_exporter as exporter
from tests.stack.captured import DYNAMIC, by_type, containers, part_container, runs, scrape_targets
from tests.support.capture import MOCK_SECRETS


def test_runs_with_metrics_and_logs_and_is_scraped(declared):
    found, container = part_container(declared, "elasticsearch_exporter")
    if container is None:
        return
    assert security_urn(declared) in container["options"]["depends_on"]
    assert scrape_targets(found, exporter.JOB) == [f"elasticsearch_exporter:{exporter.PORT}"]


def test_its_password_is_a_0400_file_and_nowhere_else(declared):
    if not runs(declared, "elasticsearch_exporter"):
        return
    inputs = containers(declared)["lab-dev-elasticsearch_exporter"]["inputs"]
    password = MOCK_SECRETS["lab:monitorPassword"]
    assert password not in " ".join(inputs.get("envs") or ()), "password in the environment"
    assert password not in " ".join(inputs["entrypoints"]), "password in the command line"
    (secret,) = [u for u in inputs["uploads"] if u["file"] == exporter.PASSWORD_FILE]
    assert (secret["permissions"], secret["owner"]) == ("0400", exporter.EXPORTER_UID)
    assert secret["content"] == password
    assert "--es.indices" in inputs["entrypoints"][-1]


def security_urn(declared: dict) -> str:
    """The security step (stack/elasticsearch_setup.py) that creates the exporter's login."""
    (step,) = [
        r for r in by_type(declared, DYNAMIC) if r["name"].endswith("-elasticsearch-security")
    ]
    return step["urn"]


def test_the_exporter_starts_after_the_security_step_that_creates_its_login(declared):
    """prometheus-community/elasticsearch_exporter pkg/clusterinfo/clusterinfo.go Retriever.Run:
    one cluster-info call at start, the next only after --es.clusterinfo.interval (5m by
    default); a failed call (401 before `lab_monitor` exists) leaves the series labelled
    cluster="unknown_cluster" until then. So it waits for the step, not for the container."""
    _found, container = part_container(declared, "elasticsearch_exporter")
    if container is None:
        return
    assert security_urn(declared) in container["options"]["depends_on"]
