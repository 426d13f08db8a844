"""stack/configs/elasticsearch_template.py: every contract log field mapped, one node's settings."""

import json

from app.contract import LOG_FIELD_TYPES, LOGS_INDEX_PATTERN
from stack.configs import elasticsearch_template


def test_index_template_maps_every_contract_field():
    template = elasticsearch_template.template()
    assert template["index_patterns"] == [LOGS_INDEX_PATTERN]
    properties = template["template"]["mappings"]["properties"]
    for dotted, field_type in LOG_FIELD_TYPES.items():
        node = {"properties": properties}
        parts = [dotted] if dotted == "@timestamp" else dotted.split(".")
        for part in parts:
            node = node["properties"][part]
        assert node == {"type": field_type}, dotted
    assert properties["http"]["properties"]["response"]["properties"]["status_code"] == {
        "type": "long"
    }
    assert json.loads(elasticsearch_template.render()) == template


def test_single_node_settings_keep_the_index_green():
    settings = elasticsearch_template.template()["template"]["settings"]
    assert settings == {
        "number_of_shards": 1,
        "number_of_replicas": 0,
        "index.lifecycle.name": "lab-logs-retention",  # lab:logRetention (issue 14)
    }
