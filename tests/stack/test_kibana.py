"""stack/kibana.py: under /kibana, after Elasticsearch, its saved objects imported after it."""

from __future__ import annotations

import json

from tests.stack.captured import DYNAMIC, VOLUME, by_type, containers, runs


def test_served_under_its_sub_path_after_elasticsearch(declared):
    if not runs(declared, "kibana"):
        return
    found = containers(declared)
    kibana, es = found["lab-dev-kibana"], found["lab-dev-elasticsearch"]
    assert kibana["options"]["depends_on"] == [es["urn"]], kibana["urn"]
    envs = dict(env.split("=", 1) for env in kibana["inputs"]["envs"])
    assert envs["SERVER_BASEPATH"] == "/kibana"
    assert envs["SERVER_REWRITEBASEPATH"] == "true"
    assert envs["ELASTICSEARCH_HOSTS"] == '["http://elasticsearch:9200"]'
    assert declared["outputs"]["kibana_url"] == "http://127.0.0.1:8000/kibana"
    volumes = {v["inputs"]["name"] for v in by_type(declared, VOLUME)}
    assert {"lab-dev-elasticsearch-data", "lab-dev-logstash-data"} <= volumes


def test_saved_objects_are_imported_once_kibana_answers(declared):
    if not runs(declared, "kibana"):
        return
    kibana = containers(declared)["lab-dev-kibana"]
    (saved,) = by_type(declared, DYNAMIC)
    assert saved["options"]["depends_on"] == [kibana["urn"]], saved["urn"]
    assert saved["inputs"]["kibana_url"] == "http://127.0.0.1:5601/kibana"
    first = json.loads(saved["inputs"]["ndjson"].splitlines()[0])
    assert first["id"].startswith("lab-"), saved["urn"]
