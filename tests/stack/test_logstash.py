"""stack/logstash.py: the rendered pipeline and settings uploaded, GELF published,
after Elasticsearch and before every function replica."""

from __future__ import annotations

import yaml

from app.contract import FUNCTIONS
from stack.configs import logstash_conf
from tests.stack.captured import DYNAMIC, by_type, containers, runs, upload


def test_pipeline_and_settings_are_uploaded_and_no_template(declared):
    if not runs(declared, "logstash"):
        return
    logstash = containers(declared)["lab-dev-logstash"]
    pipeline = upload(logstash, logstash_conf.PIPELINE_FILE)
    assert 'hosts => ["http://elasticsearch:9200"]' in pipeline
    # The security setup step installs the templates; Logstash gets none to install.
    assert not [u for u in logstash["inputs"]["uploads"] if "template" in u["file"]]
    settings = yaml.safe_load(upload(logstash, logstash_conf.SETTINGS_FILE))
    assert settings["queue.type"] == "persisted"
    assert settings["path.queue"].startswith(logstash["inputs"]["volumes"][0]["containerPath"])
    assert logstash["inputs"]["ports"] == [
        {"internal": 12201, "external": 12201, "ip": "127.0.0.1", "protocol": "tcp"}
    ]


def test_starts_after_elasticsearch_and_before_the_replicas(declared):
    """No start-up line of a replica is lost to a Logstash that does not listen yet."""
    if not runs(declared, "logstash"):
        return
    found = containers(declared)
    logstash, es = found["lab-dev-logstash"], found["lab-dev-elasticsearch"]
    (security,) = [r for r in by_type(declared, DYNAMIC) if r["name"].endswith("-security")]
    # Its writer user exists before it writes: after the security setup, not only the node.
    assert logstash["options"]["depends_on"] == [es["urn"], security["urn"]], logstash["urn"]
    for function in FUNCTIONS:
        replica = found[f"lab-dev-{function}-1"]
        assert logstash["urn"] in replica["options"]["depends_on"], replica["urn"]
