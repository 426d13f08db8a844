"""stack/elasticsearch.py: one node, security off without any password, data on a volume."""

from __future__ import annotations

from tests.stack.captured import DYNAMIC, by_type, containers, runs


def test_elastic_parts_only_with_logs_on(declared):
    if runs(declared, "elasticsearch"):
        return
    assert not {"lab-dev-elasticsearch", "lab-dev-logstash", "lab-dev-kibana"} & set(
        containers(declared)
    )
    assert declared["outputs"]["kibana_url"] is None
    assert not by_type(declared, DYNAMIC)


def test_one_node_without_passwords_on_its_volume(declared):
    if not runs(declared, "elasticsearch"):
        return
    es = containers(declared)["lab-dev-elasticsearch"]
    envs = dict(env.split("=", 1) for env in es["inputs"]["envs"])
    assert envs["discovery.type"] == "single-node", es["urn"]
    assert envs["ES_JAVA_OPTS"] == "-Xms1g -Xmx1g", es["urn"]
    assert envs["xpack.security.enabled"] == "false", es["urn"]
    assert not any("PASSWORD" in key.upper() for key in envs), es["urn"]
    # Logstash and Kibana start once it is healthy, not merely created.
    assert es["inputs"]["wait"] is True, es["urn"]
    assert es["inputs"]["volumes"][0]["containerPath"] == "/usr/share/elasticsearch/data"
    assert es["inputs"]["volumes"][0]["volumeName"] == "lab-dev-elasticsearch-data"
