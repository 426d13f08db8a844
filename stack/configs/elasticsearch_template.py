"""The composable index template for the lab's log indices, as the file Logstash installs."""

from __future__ import annotations

import json
from collections.abc import Mapping

from app.contract import LOG_FIELD_TYPES, LOGS_INDEX_PATTERN
from stack.configs.elasticsearch_security import ILM_POLICY

NAME = "lab-logs"


def _nested_properties(field_types: Mapping[str, str]) -> dict:
    """Dotted ECS names as Elasticsearch's nested `properties` objects."""
    root: dict = {}
    for dotted, field_type in field_types.items():
        node = root
        *parents, leaf = dotted.split(".") if dotted != "@timestamp" else [dotted]
        for parent in parents:
            node = node.setdefault(parent, {"properties": {}})["properties"]
        node[leaf] = {"type": field_type}
    return root


def template() -> dict:
    """Every contract log field mapped with its type, for the indices Logstash writes."""
    return {
        "index_patterns": [LOGS_INDEX_PATTERN],
        "priority": 200,
        "template": {
            "settings": {
                # One node: a replica could never be assigned and would keep the index yellow.
                "number_of_shards": 1,
                "number_of_replicas": 0,
                # Retention (lab:logRetention): the security setup step puts this policy.
                "index.lifecycle.name": ILM_POLICY,
            },
            "mappings": {"properties": _nested_properties(LOG_FIELD_TYPES)},
        },
        "_meta": {"description": "Function service access logs (docs/contract.md)"},
    }


def render() -> str:
    """The template as the JSON file Logstash's `template` option reads."""
    return json.dumps(template(), indent=2, sort_keys=True) + "\n"
