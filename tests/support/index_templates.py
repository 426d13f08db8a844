"""Elasticsearch index templates as the tests read them: which type each dotted field maps to."""

from collections.abc import Mapping


def template_types(template: Mapping) -> dict[str, str]:
    """Dotted field name -> mapped type, from an index template's nested properties."""
    types: dict[str, str] = {}

    def walk(properties: Mapping, prefix: str) -> None:
        for name, mapping in properties.items():
            if "properties" in mapping:
                walk(mapping["properties"], f"{prefix}{name}.")
            else:
                types[f"{prefix}{name}"] = mapping["type"]

    walk(template["template"]["mappings"]["properties"], "")
    return types
