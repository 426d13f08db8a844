"""Read rendered Kibana saved objects back: the fields they use and what their queries match.

The field proof walks the NDJSON rather than a list kept by hand, so a column, filter or
aggregation added later is checked against real documents without anyone remembering to.
"""

import json
import re
from collections.abc import Iterator

from tests.dashboards.logstash_shape import lookup

# The KQL the lab writes: `field : "value"`, `field <op> number` or `field : *` (the field
# exists: Kibana's KQL docs), joined by `and`.
KQL_CLAUSE = re.compile(
    r'^\s*(?P<field>[@\w.]+)\s*(?P<op>:|>=|<=|>|<)\s*(?P<value>"[^"]*"|[\d.]+|\*)\s*$'
)


def parse_objects(ndjson: str) -> list[dict]:
    return [json.loads(line) for line in ndjson.splitlines() if line.strip()]


def search_source(saved: dict) -> dict:
    meta = saved["attributes"].get("kibanaSavedObjectMeta", {})
    return json.loads(meta.get("searchSourceJSON", "{}"))


def kql_clauses(kuery: str) -> list[tuple[str, str, str]]:
    """(field, op, value) for each `and`-joined clause; anything else is a test failure."""
    if not kuery.strip():
        return []
    clauses = []
    for part in re.split(r"\s+and\s+", kuery):
        match = KQL_CLAUSE.match(part)
        assert match, f"KQL the checks do not understand: {part!r} in {kuery!r}"
        clauses.append((match["field"], match["op"], match["value"]))
    return clauses


def kql_matches(kuery: str, document: dict) -> bool:
    """Evaluate the lab's simple KQL against one document, as Elasticsearch would."""
    for field, op, raw in kql_clauses(kuery):
        found, value = lookup(document, field)
        if not found:
            return False
        if op == ":" and raw == "*":
            continue
        if op == ":":
            expected = raw.strip('"') if raw.startswith('"') else float(raw)
            if (str(value) if isinstance(expected, str) else value) != expected:
                return False
        else:
            number = float(raw)
            comparisons = {
                ">": value > number,
                ">=": value >= number,
                "<": value < number,
                "<=": value <= number,
            }
            if not comparisons[op]:
                return False
    return True


def fields_used(objects: list[dict]) -> Iterator[tuple[str, str]]:
    """(field, where) for every field an object names: time field, field formats, columns,
    sort, query clauses, filters and aggregation fields."""
    for saved in objects:
        where = f"{saved['type']}/{saved['id']}"
        attributes = saved["attributes"]
        if saved["type"] == "index-pattern":
            yield attributes["timeFieldName"], f"{where} timeFieldName"
            for field in json.loads(attributes.get("fieldFormatMap", "{}")):
                yield field, f"{where} fieldFormatMap"
        for column in attributes.get("columns", []):
            yield column, f"{where} column"
        for field, _direction in attributes.get("sort", []):
            yield field, f"{where} sort"
        source = search_source(saved)
        for field, _, _ in kql_clauses(source.get("query", {}).get("query", "")):
            yield field, f"{where} query"
        for query_filter in source.get("filter", []):
            yield query_filter["meta"]["key"], f"{where} filter"
        if "visState" in attributes:
            for agg in json.loads(attributes["visState"])["aggs"]:
                if "field" in agg["params"]:
                    yield agg["params"]["field"], f"{where} aggregation {agg['id']}"


def on_data_view(objects: list[dict], data_view_id: str) -> list[dict]:
    """The data view itself and every object that reads it through a reference."""
    return [
        saved
        for saved in objects
        if (saved["type"], saved["id"]) == ("index-pattern", data_view_id)
        or any((r["type"], r["id"]) == ("index-pattern", data_view_id) for r in saved["references"])
    ]
