"""Elasticsearch 8.19.4's rules over the index template Logstash installs.

Sources (elastic/elasticsearch at v8.19.4, recorded in docs/product-rules.md E4):
server/src/main/java/org/elasticsearch/cluster/metadata/ComposableIndexTemplate.java (keys),
server/.../cluster/metadata/IndexMetadata.java (index.number_of_replicas, min 0) and
server/.../cluster/routing/allocation/decider/SameShardAllocationDecider.java (a replica never
shares a node with its primary, so on one node any replica stays unassigned: health yellow).
"""

import json

from app.contract import LOG_FIELD_TYPES
from stack.configs import elasticsearch_template, logstash_conf

TEMPLATE_KEYS = {
    *("index_patterns", "template", "composed_of", "priority", "version", "_meta"),
    *("data_stream", "allow_auto_create", "ignore_missing_component_templates", "deprecated"),
}
SINGLE_NODE_REPLICAS = 0
# Built-in `logs` template (x-pack stack templates): logs-*-* at priority 100.
BUILT_IN = {"logs-*-*": 100}


def template() -> dict:
    return json.loads(elasticsearch_template.render())


def mapped_fields(properties: dict, prefix: str = "") -> set[str]:
    fields = set()
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            fields |= mapped_fields(spec["properties"], f"{path}.")
        else:
            fields.add(path)
    return fields


def _dotted(reference: str) -> str:
    """`[container][image][name]` -> `container.image.name`."""
    return ".".join(part for part in reference.strip("[]").split("]["))


def test_template_keys_are_composable_template_keys():
    """ComposableIndexTemplate.java PARSER: unknown top-level keys are rejected."""
    assert set(template()) <= TEMPLATE_KEYS


def test_settings_hold_on_one_node():
    """IndexMetadata.java and SameShardAllocationDecider.java: replicas 0 on a single node."""
    settings = template()["template"]["settings"]
    replicas = settings.get("number_of_replicas", settings.get("index.number_of_replicas"))
    assert int(replicas) == SINGLE_NODE_REPLICAS
    assert int(settings.get("number_of_shards", settings.get("index.number_of_shards", 1))) >= 1


def test_no_built_in_template_shares_pattern_and_priority():
    """MetadataIndexTemplateService.java: overlapping patterns with equal priority are refused."""
    body = template()
    assert all(body["priority"] != priority for priority in BUILT_IN.values())


def test_every_field_the_pipeline_produces_is_mapped():
    """Every field the app writes (app.contract.LOG_FIELD_TYPES) and every field the pipeline
    renames GELF and Traefik metadata to (stack/configs/logstash_conf.py) has a mapping, with
    the contract's type; an unmapped one would be dynamically mapped (text+keyword)."""
    properties = template()["template"]["mappings"]["properties"]
    mapped = mapped_fields(properties)
    produced = set(LOG_FIELD_TYPES)
    produced |= {_dotted(dst) for dst in logstash_conf.GELF_RENAMES.values()}
    renames = getattr(logstash_conf, "TRAEFIK_ACCESS_RENAMES", {})
    produced |= {_dotted(dst) for dst in renames.values()}
    assert not produced - mapped, f"unmapped: {sorted(produced - mapped)}"
    for field, kind in LOG_FIELD_TYPES.items():
        spec = properties
        *parents, leaf = field.split(".") if field != "@timestamp" else ["@timestamp"]
        for parent in parents:
            spec = spec[parent]["properties"]
        assert spec[leaf]["type"] == kind, field


def test_disk_watermarks_stay_on():
    """server/src/main/java/org/elasticsearch/cluster/routing/allocation/DiskThresholdSettings.java
    (v8.19.4): `cluster.routing.allocation.disk.threshold_enabled` defaults to true, with the
    low/high/flood-stage watermarks at 85%/90%/95%; past the flood stage the node's indices
    get a read-only-allow-delete block instead of the disk filling up (issue 14). The lab
    leaves them at the defaults: nothing in the container's settings may turn them off."""
    from tests.stack.captured import containers, declared_under

    es = containers(declared_under("default"))["lab-dev-elasticsearch"]
    settings = dict(env.split("=", 1) for env in es["inputs"]["envs"])
    assert settings.get("cluster.routing.allocation.disk.threshold_enabled", "true") == "true"
    assert not [key for key in settings if key.startswith("cluster.routing.allocation.disk.")]
