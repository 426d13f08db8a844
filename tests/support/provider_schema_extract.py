"""Extract the schema flags of terraform-provider-docker resources from its Go source.

Run by hand against a checkout (or a bare mirror through `git show`) of the bridged tag, to
regenerate tests/support/provider_schema.json; the tests read only the JSON, so they run
without the source. Reads `Schema: map[string]*schema.Schema{...}` of a resource function and
keeps, per attribute, what the SDK's diff uses: Type, Optional, Required, Computed, ForceNew,
Default, MaxItems, whether it has a DiffSuppressFunc or StateFunc (by name, or "inline"), the
nested Elem, and the line it starts on.

    python -m tests.support.provider_schema_extract GIT_DIR v4.5.0 > SCHEMA_JSON
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

RESOURCES = {
    "docker_container": ("resource_docker_container.go", "resourceDockerContainer"),
    "docker_network": ("resource_docker_network.go", "resourceDockerNetwork"),
    "docker_volume": ("resource_docker_volume.go", "resourceDockerVolume"),
    "docker_service": ("resource_docker_service.go", "resourceDockerService"),
    "docker_config": ("resource_docker_config.go", "resourceDockerConfig"),
    "docker_secret": ("resource_docker_secret.go", "resourceDockerSecret"),
}
# helpers.go newLabelSchema(forceNew): label/value, both Required.
NAMED_ELEMS = {"labelSchema": True, "labelSchemaUpdatable": False}
FLAGS = ("Optional", "Required", "Computed", "ForceNew")


def _skip_string(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while text[i] != quote:
        i += 2 if (text[i] == "\\" and quote == '"') else 1
    return i + 1


def _matching(text: str, i: int) -> int:
    """Index after the bracket closing the one at i (strings and comments skipped)."""
    pairs = {"{": "}", "(": ")", "[": "]"}
    stack = [pairs[text[i]]]
    i += 1
    while stack:
        c = text[i]
        if c in '"`':
            i = _skip_string(text, i)
            continue
        if text.startswith("//", i):
            i = text.index("\n", i)
            continue
        if c in pairs:
            stack.append(pairs[c])
        elif c == stack[-1]:
            stack.pop()
        i += 1
    return i


def _items(text: str, start: int, end: int) -> list[tuple[int, str]]:
    """Top-level comma-separated items between start and end, with their offsets."""
    items, i, item_start = [], start, start
    while i < end:
        c = text[i]
        if c in '"`':
            i = _skip_string(text, i)
        elif text.startswith("//", i):
            i = text.index("\n", i)
        elif c in "{([":
            i = _matching(text, i)
        elif c == ",":
            items.append((item_start, text[item_start:i]))
            i += 1
            item_start = i
        else:
            i += 1
    if text[item_start:end].strip():
        items.append((item_start, text[item_start:end]))
    return items


def _strip_comments(item: str) -> str:
    return re.sub(r"^\s*(//[^\n]*\n\s*)*", "", item)


def _schema_map(text: str, open_brace: int) -> dict:
    end = _matching(text, open_brace) - 1
    result = {}
    for offset, item in _items(text, open_brace + 1, end):
        item = _strip_comments(item)
        m = re.match(r'\s*"([a-z0-9_]+)":\s*{', item)
        if not m:
            continue
        body_start = text.index("{", offset + text[offset:].index(f'"{m.group(1)}"'))
        result[m.group(1)] = _attribute(text, body_start)
    return result


def _attribute(text: str, open_brace: int) -> dict:
    end = _matching(text, open_brace) - 1
    found: dict = {"line": text.count("\n", 0, open_brace) + 1}
    for offset, item in _items(text, open_brace + 1, end):
        item = _strip_comments(item).strip()
        if ":" not in item:
            continue
        key, value = (part.strip() for part in item.split(":", 1))
        if key == "Type":
            found["type"] = value.removeprefix("schema.Type").lower()
        elif key in FLAGS:
            found[key.lower()] = value == "true"
        elif key == "Default":
            found["default"] = _literal(value)
        elif key == "MaxItems":
            found["max_items"] = int(value)
        elif key in ("DiffSuppressFunc", "StateFunc"):
            name = re.match(r"(\w+)\(\)", value)
            found[key[0].lower() + key[1:]] = name.group(1) if name else "inline"
        elif key == "Elem":
            if value.startswith("&schema.Resource"):
                inner = text.index("map[string]*schema.Schema{", offset) + len(
                    "map[string]*schema.Schema"
                )
                found["elem"] = _schema_map(text, inner)
            elif value.startswith("&schema.Schema"):
                found["elem"] = re.search(r"schema\.Type(\w+)", value).group(1).lower()
            elif value in NAMED_ELEMS:
                flags = {"type": "string", "required": True, "forcenew": NAMED_ELEMS[value]}
                found["elem"] = {"label": dict(flags), "value": dict(flags)}
    return found


def _literal(value: str):
    """A Go literal as JSON data (`0o444` is an int); anything else (a constant) as text."""
    if re.fullmatch(r"-?(0[oxb])?[0-9a-fA-F]+", value):
        return int(value, 0)
    if re.fullmatch(r'true|false|"[^"]*"', value):
        return json.loads(value)
    return value


def extract(source: str, function: str) -> dict:
    start = source.index(f"func {function}() *schema.Resource")
    brace = source.index("map[string]*schema.Schema{", start) + len("map[string]*schema.Schema")
    return _schema_map(source, brace)


def main(git_dir: str, tag: str) -> None:
    out = {"source": f"kreuzwerker/terraform-provider-docker {tag}", "resources": {}}
    for resource, (path, function) in RESOURCES.items():
        source = subprocess.run(
            ["git", "--git-dir", git_dir, "show", f"{tag}:internal/provider/{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        out["resources"][resource] = {
            "file": f"internal/provider/{path}",
            "schema": extract(source, function),
        }
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
