"""stack/kibana.py: under /kibana, signed in as kibana_system through a 0400 kibana.yml, after
Elasticsearch and its security setup, its saved objects imported by the importer user."""

from __future__ import annotations

import json

import yaml

from stack.configs import elasticsearch_security as es_security
from stack.configs import kibana_yml
from tests.stack.captured import DYNAMIC, VOLUME, by_type, containers, runs, upload
from tests.support.capture import MOCK_SECRETS


def _dynamic(declared: dict, suffix: str) -> dict:
    (found,) = [r for r in by_type(declared, DYNAMIC) if r["name"].endswith(suffix)]
    return found


def test_served_under_its_sub_path_after_elasticsearch_and_its_logins(declared):
    if not runs(declared, "kibana"):
        return
    found = containers(declared)
    kibana, es = found["lab-dev-kibana"], found["lab-dev-elasticsearch"]
    security = _dynamic(declared, "-elasticsearch-security")
    assert kibana["options"]["depends_on"] == [es["urn"], security["urn"]], kibana["urn"]
    config = yaml.safe_load(upload(kibana, kibana_yml.CONFIG_FILE))
    assert config["server.basePath"] == "/kibana"
    assert config["server.rewriteBasePath"] is True
    assert config["elasticsearch.hosts"] == ["http://elasticsearch:9200"]
    assert config["elasticsearch.username"] == "kibana_system"
    assert config["elasticsearch.password"] == MOCK_SECRETS["lab:kibanaSystemPassword"]
    assert declared["outputs"]["kibana_url"] == "http://127.0.0.1:8000/kibana"
    volumes = {v["inputs"]["name"] for v in by_type(declared, VOLUME)}
    assert {"lab-dev-elasticsearch-data", "lab-dev-logstash-data"} <= volumes


def test_its_password_is_only_in_a_file_its_user_reads(declared):
    if not runs(declared, "kibana"):
        return
    inputs = containers(declared)["lab-dev-kibana"]["inputs"]
    assert not inputs.get("envs"), "Kibana's image turns env into command-line arguments"
    (config,) = [u for u in inputs["uploads"] if u["file"] == kibana_yml.CONFIG_FILE]
    assert (config["permissions"], config["owner"]) == ("0400", kibana_yml.KIBANA_UID)


def test_saved_objects_are_imported_by_the_importer_once_kibana_answers(declared):
    if not runs(declared, "kibana"):
        return
    kibana = containers(declared)["lab-dev-kibana"]
    saved = _dynamic(declared, "-saved-objects")
    assert saved["options"]["depends_on"] == [kibana["urn"]], saved["urn"]
    assert saved["inputs"]["kibana_url"] == "http://127.0.0.1:5601/kibana"
    assert saved["inputs"]["username"] == es_security.KIBANA_IMPORTER_USER
    first = json.loads(saved["inputs"]["ndjson"].splitlines()[0])
    assert first["id"].startswith("lab-"), saved["urn"]
