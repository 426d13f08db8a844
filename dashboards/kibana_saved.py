"""The saved-object envelope of Kibana 8.19 and the objects every lab data view shares: data
views and saved searches. kibana_objects.py (the logs) and kibana_alerts.py (the alert events)
build on it.

Each object carries the migration versions that Kibana 8.19 itself writes on export, so the
import API takes them as current and does not run old migrations over them:
`coreMigrationVersion` 8.8.0 (the core version has stayed there since saved-object types moved
to model versions) and a `typeMigrationVersion` per type. JSON-valued attributes
(`searchSourceJSON`, `visState`, `panelsJSON`, ...) are JSON strings, as in an export, and
every link to another object goes through `references`.
"""

import json
from collections.abc import Mapping, Sequence

CORE_MIGRATION_VERSION = "8.8.0"
TYPE_MIGRATION_VERSIONS = {
    "index-pattern": "8.0.0",
    "search": "10.5.0",
    "visualization": "8.5.0",
    "dashboard": "10.2.0",
}

TIME_FIELD = "@timestamp"
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def to_json(value: object) -> str:
    """Compact, key-sorted JSON: the string form Kibana stores, stable across renders."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def saved_object(kind: str, object_id: str, attributes: dict, references=()) -> dict:
    return {
        "attributes": attributes,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "id": object_id,
        "managed": False,
        "references": list(references),
        "type": kind,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS[kind],
    }


def data_view_reference(data_view_id: str) -> dict:
    return {"id": data_view_id, "name": INDEX_REF, "type": "index-pattern"}


def search_source(kuery: str) -> dict:
    """`kibanaSavedObjectMeta` pointing at a data view through its reference."""
    source = {
        "filter": [],
        "indexRefName": INDEX_REF,
        "query": {"language": "kuery", "query": kuery},
    }
    return {"searchSourceJSON": to_json(source)}


def data_view(
    data_view_id: str, name: str, title: str, field_formats: Mapping[str, dict] | None = None
) -> dict:
    """A data view over the indices `title` matches, in time order by TIME_FIELD."""
    return saved_object(
        "index-pattern",
        data_view_id,
        {
            "fieldAttrs": to_json({}),
            "fieldFormatMap": to_json(dict(field_formats or {})),
            "fields": "[]",
            "name": name,
            "runtimeFieldMap": to_json({}),
            "sourceFilters": "[]",
            "timeFieldName": TIME_FIELD,
            "title": title,
        },
    )


def saved_search(
    object_id: str,
    title: str,
    description: str,
    kuery: str,
    columns: Sequence[str],
    sort: Sequence[tuple[str, str]] = ((TIME_FIELD, "desc"),),
    *,
    data_view_id: str,
) -> dict:
    """A Discover session: a query, the columns a reader scans, and an order."""
    return saved_object(
        "search",
        object_id,
        {
            "columns": list(columns),
            "description": description,
            "grid": {},
            "hideChart": False,
            "isTextBasedQuery": False,
            "kibanaSavedObjectMeta": search_source(kuery),
            "sort": [list(pair) for pair in sort],
            "timeRestore": False,
            "title": title,
        },
        [data_view_reference(data_view_id)],
    )
