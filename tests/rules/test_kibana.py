"""Kibana 8.19's rules over the saved objects the lab imports (dashboards/kibana_objects.py).

Each rule is data copied as a fact from elastic/kibana (8.x branch); paths are given as they
stand since the 8.18 move to src/platform/, with the older src/plugins/ path where it differs.
"""

import json

import pytest

from dashboards import kibana_objects

# elastic/kibana src/platform/plugins/shared/data/common/search/aggs/buckets/
# _terms_order_helper.ts termsAggFilter, which the editor's order-by list (src/platform/plugins/
# private/vis_default_editor/public/components/controls/order_by.tsx) applies: excluded types.
NOT_AN_ORDER = {
    "top_hits",
    "percentiles",
    "percentile_ranks",
    "median",
    "std_dev",
    "derivative",
    "moving_avg",
    "serial_diff",
    "cumulative_sum",
    "avg_bucket",
    "max_bucket",
    "min_bucket",
    "sum_bucket",
    *("filtered_metric", "percentile", "percentile_rank", "geo_bounds", "geo_centroid"),
}
SINGLE_VALUE_METRICS = {"count", "avg", "sum", "min", "max", "cardinality", "single_percentile"}

# elastic/kibana src/platform/plugins/private/vis_types/pie/public/vis_type/pie.ts:
# the `split` schema ("Split chart") is mustBeFirst, so it precedes `segment`.
MUST_BE_FIRST = {"pie": "split"}

# elastic/kibana src/platform/plugins/shared/visualizations/server/migrations/
# visualization_saved_object_migrations.ts: the type's migration map (8.1.0 = updatePieVisApi,
# which turns `addLegend` into `legendDisplay`). The search-source migrations of the data plugin
# (src/plugins/data/common/search/search_source/migrate_legacy... 8.x) add 8.5.0 to it.
VISUALIZATION_MIGRATIONS = {
    *("6.7.2", "7.0.0", "7.0.1", "7.2.0", "7.3.0", "7.3.1", "7.4.2", "7.7.0", "7.8.0", "7.9.3"),
    *("7.10.0", "7.11.0", "7.12.0", "7.13.0", "7.13.1", "7.14.0", "7.17.0", "8.0.0", "8.1.0"),
    *("8.3.0", "8.5.0"),
}
# Per key renamed by a migration: (migration version, old key, new key), for the vis type.
PARAM_RENAMES = {"pie": [("8.1.0", "addLegend", "legendDisplay")]}
KNOWN_TYPE_VERSIONS = {
    # src/plugins/data_views/server/saved_objects.ts (8.0.0 is its last migration)
    "index-pattern": {"7.6.0", "7.11.0", "8.0.0"},
    # src/platform/plugins/shared/saved_search/server/saved_objects/search.ts: model
    # version N is written 10.N.0; 6 (extractTabs) is later than 8.19
    "search": {"8.0.0", "10.1.0", "10.2.0", "10.3.0", "10.4.0", "10.5.0"},
    "visualization": VISUALIZATION_MIGRATIONS,
    # src/plugins/dashboard/server/dashboard_saved_object/dashboard_saved_object.ts model versions
    "dashboard": {"8.7.0", "10.1.0", "10.2.0", "10.3.0"},
}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return kibana_objects.objects(slow_call_ms=100)


def _vis_states(objects):
    for saved in objects:
        if saved["type"] == "visualization":
            yield saved, json.loads(saved["attributes"]["visState"])


def test_every_terms_order_targets_a_single_value_metric_or_key_or_count(objects):
    """elastic/kibana src/platform/plugins/shared/data/common/search/aggs/buckets/
    _terms_order_helper.ts (termsAggFilter; the order is looked up by response agg id) and the
    editor's src/platform/plugins/private/vis_default_editor/public/components/controls/
    order_by.tsx, which never offers percentiles."""
    for saved, state in _vis_states(objects):
        by_id = {a["id"]: a for a in state["aggs"]}
        for bucket in (a for a in state["aggs"] if a["type"] == "terms"):
            target = bucket["params"]["orderBy"]
            if target in ("_key", "_count"):
                continue
            assert target in by_id, f"{saved['id']}: orderBy {target!r} names no agg"
            kind = by_id[target]["type"]
            where = f"{saved['id']}: terms agg {bucket['id']} ordered by {kind} agg {target}"
            assert kind not in NOT_AN_ORDER, where
            assert kind in SINGLE_VALUE_METRICS, where


def test_schemas_that_must_come_first_do(objects):
    """elastic/kibana src/platform/plugins/private/vis_types/pie/public/vis_type/pie.ts:
    the `split` schema is mustBeFirst."""
    for saved, state in _vis_states(objects):
        first = MUST_BE_FIRST.get(state["type"])
        buckets = [a["schema"] for a in state["aggs"] if a["schema"] != "metric"]
        if first and first in buckets:
            assert buckets[0] == first, f"{saved['id']}: bucket schemas in order {buckets}"


def test_params_use_the_keys_of_the_declared_migration_version(objects):
    """elastic/kibana src/platform/plugins/shared/visualizations/server/migrations/
    visualization_saved_object_migrations.ts and visualization_common_migrations.ts
    (commonUpdatePieVisApi at 8.1.0): migrations at or below the declared version do not run,
    so the params must already be in the shape they produce."""
    for saved, state in _vis_states(objects):
        declared = _version(saved["typeMigrationVersion"])
        for version, old, new in PARAM_RENAMES.get(state["type"], ()):
            if declared >= _version(version):
                assert old not in state["params"], f"{saved['id']}: pre-{version} key {old}"
                assert new in state["params"], f"{saved['id']}: no {new} (8.x default hides)"


def test_migration_versions_are_known_to_8_19(objects):
    """elastic/kibana src/core/server/... core migration version (8.8.0 since model versions)
    and each type's migration map/model versions listed in KNOWN_TYPE_VERSIONS."""
    for saved in objects:
        assert saved["coreMigrationVersion"] == "8.8.0"
        known = KNOWN_TYPE_VERSIONS[saved["type"]]
        assert saved["typeMigrationVersion"] in known, (saved["id"], saved["typeMigrationVersion"])


def test_every_named_reference_exists(objects):
    """elastic/kibana src/platform/plugins/shared/data/common/search/search_source/
    inject_references.ts
    (indexRefName) and src/plugins/dashboard/common/persistable_state/dashboard_saved_object_
    references.ts (panelRefName as `<panelIndex>:<panelRefName>`): injection fails on a name
    absent from `references`."""
    for saved in objects:
        names = {ref["name"] for ref in saved["references"]}
        meta = saved["attributes"].get("kibanaSavedObjectMeta", {})
        source = json.loads(meta.get("searchSourceJSON", "{}"))
        if "indexRefName" in source:
            assert source["indexRefName"] in names, saved["id"]
        for panel in json.loads(saved["attributes"].get("panelsJSON", "[]")):
            ref = f"{panel['panelIndex']}:{panel['panelRefName']}"
            assert ref in names, f"{saved['id']}: panel reference {ref} missing"
