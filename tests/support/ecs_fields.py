"""ECS JSON as the tests read it, wherever the line comes from (stdout, GELF, Logstash)."""


def flatten(document: dict, prefix: str = "") -> dict:
    """Nested objects as dotted names (`http.response.status_code`), whether the formatter
    nested a field or kept it dotted."""
    flat = {}
    for key, value in document.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
