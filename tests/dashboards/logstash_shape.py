"""What Logstash would index for one line of a function service's stdout, done in Python.

Mirrors the pipeline that stack/configs/logstash_conf.py declares, reading its rename and
remove lists from the rendered pipeline text itself, so a change there changes this too:
Docker's gelf driver wraps the line in `short_message`, the gelf input turns that into
`message` and strips the underscore of the driver's extra fields, the json filter merges the
app's ECS keys at the root, then the mutate filters rename and drop GELF metadata.
"""

import json
import re
from datetime import UTC, datetime

from stack.configs import logstash_conf

PIPELINE = logstash_conf.pipeline(elasticsearch_url="http://elasticsearch:9200")


def _block(name: str) -> str:
    """The body of the first `name { ... }` block of the pipeline (no nested braces)."""
    match = re.search(rf"\b{name}\s*{{([^{{}}]*)}}", PIPELINE)
    assert match, f"the pipeline has no {name} block:\n{PIPELINE}"
    return match.group(1)


def pipeline_renames() -> dict[str, list[str]]:
    """`rename => { "container_name" => "[container][name]" ... }` as source -> path."""
    body = re.search(r"rename\s*=>\s*{([^}]*)}", PIPELINE)
    assert body, "the pipeline renames no GELF field"
    pairs = re.findall(r'"([^"]+)"\s*=>\s*"([^"]+)"', body.group(1))
    # mutate's rename of an absent field does nothing, silently: each source must be a field
    # the gelf input really produces (modelled below from Docker's and the plugin's source).
    absent = {src for src, _ in pairs} - gelf_event_fields()
    assert not absent, f"the pipeline renames fields the gelf input never produces: {absent}"
    return {src: re.findall(r"\[([^\]]+)\]", dst) or [dst] for src, dst in pairs}


def pipeline_removed() -> list[str]:
    body = re.search(r"remove_field\s*=>\s*\[([^\]]*)\]", PIPELINE)
    assert body, "the pipeline removes no GELF field"
    removed = re.findall(r'"([^"]+)"', body.group(1))
    # GELF's optional `facility` may be sent by other clients; anything else must exist.
    absent = set(removed) - gelf_event_fields() - {"facility"}
    assert not absent, f"the pipeline removes fields the gelf input never produces: {absent}"
    return removed


def json_filter_merges_at_root() -> bool:
    """True when the json filter decodes `message` with no `target` (keys land at the root)."""
    body = _block("json")
    return re.search(r'source\s*=>\s*"message"', body) is not None and "target" not in body


def gelf_message(line: str, *, container: str, image: str = "lab-app:local") -> dict:
    """The GELF 1.1 message Docker's gelf log driver sends for one stdout line: moby/moby
    daemon/logger/gelf/gelf.go, New() builds the `_`-prefixed extra fields, Log() the
    version, host, short_message, timestamp and level (6 for stdout, 3 for stderr)."""
    return {
        "version": "1.1",
        "host": "lab-host",
        "short_message": line,
        "timestamp": datetime.now(UTC).timestamp(),
        "level": 6,
        "_command": "python -m app",
        "_container_id": "0" * 64,
        "_container_name": container,
        "_created": "2026-01-01T00:00:00.000000000Z",
        "_image_id": "sha256:" + "1" * 64,
        "_image_name": image,
        "_tag": "0" * 12,
    }


def gelf_input(message: dict) -> dict:
    """Logstash's gelf input (logstash-input-gelf 3.3.2, lib/logstash/inputs/gelf.rb, bundled
    with Logstash 8.19.4; docs/product-rules.md L1): `short_message` becomes `message`
    (remap), `_x` becomes `x` (strip_leading_underscore), the numeric `timestamp` becomes
    `@timestamp`, and `source_host` is set to the sender's address (new_event)."""
    event = {"source_host": "172.18.0.1"}
    for key, value in message.items():
        if key == "short_message":
            event["message"] = value
        elif key == "timestamp":
            event["@timestamp"] = datetime.fromtimestamp(value, UTC).isoformat()
        else:
            event[key.removeprefix("_")] = value
    return event


def gelf_event_fields() -> set[str]:
    """The fields the gelf input hands to the filters for a line from Docker's driver."""
    return set(gelf_input(gelf_message("line", container="lab-dev-fibonacci-1")))


def _set_path(event: dict, path: list[str], value: object) -> None:
    node = event
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def shape(message: dict) -> dict:
    """The document Logstash writes to Elasticsearch for one GELF message."""
    event = gelf_input(message)
    assert json_filter_merges_at_root(), "the pipeline's json filter no longer merges at the root"
    try:
        decoded = json.loads(event["message"])
    except ValueError:
        decoded = None  # skip_on_invalid_json: the line stays a plain `message`
    if isinstance(decoded, dict):
        event.update(decoded)
    for source, path in pipeline_renames().items():
        if source in event:
            _set_path(event, path, event.pop(source))
    for field in pipeline_removed():
        event.pop(field, None)
    return event


def lookup(document: dict, field: str) -> tuple[bool, object]:
    """Find a dotted field the way Elasticsearch reads it: `a.b` as a key or as a path."""
    if field in document:
        return True, document[field]
    parts = field.split(".")
    for split in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:split])
        if isinstance(document.get(head), dict):
            found, value = lookup(document[head], ".".join(parts[split:]))
            if found:
                return True, value
    return False, None


def value_fits(value: object, mapped_type: str) -> bool:
    """Would Elasticsearch index this JSON value under this mapping type without coercion?"""
    if mapped_type == "long":
        return isinstance(value, int) and not isinstance(value, bool)
    if mapped_type in ("keyword", "text"):
        return isinstance(value, str)
    if mapped_type == "date":
        try:
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    raise AssertionError(f"no rule for mapping type {mapped_type!r}")
