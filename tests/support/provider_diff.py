"""The docker provider's diff and the engine's resource options, as tests/support/provider_model.py
describes them: the schema (provider_schema.json, from terraform-provider-docker v4.5.0, with
pulumi-docker 5.2.0's patches), the bridge's names, the Terraform plugin SDK's diff of each type
(helper/schema/schema.go diffString/diffList/diffSet/diffMap) and Pulumi's ignore_changes /
replace_on_changes (pkg/resource/deploy/step_generator.go applyReplaceOnChanges)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("provider_schema.json")
_SCHEMAS = json.loads(SCHEMA_FILE.read_text())
SOURCE = _SCHEMAS["source"]


def _patch_as_bridged(schemas: dict) -> None:
    """What pulumi-docker 5.2.0 changes in the upstream schema it bridges.

    - patches/0005-remove-service-default.patch (pulumi/pulumi-docker): `mode.global` has no
      Default (pulumi-terraform-bridge issue 1095).
    - The 5.2.0 SDK's ContainerUploadArgs has `owner` and `group`, which upstream v4.5.0's
      `upload` block does not: modelled like every other `upload` field (Optional, ForceNew;
      `upload` is never read back: resourceDockerContainerRead, "upload can't be imported").
    """
    service = schemas["docker_service"]["schema"]
    service["mode"]["elem"]["global"].pop("default", None)
    upload = schemas["docker_container"]["schema"]["upload"]["elem"]
    for name in ("owner", "group"):
        upload.setdefault(name, {"type": "string", "optional": True, "forcenew": True})


_patch_as_bridged(_SCHEMAS["resources"])

# Pulumi type token -> Terraform resource (pulumi-docker provider/resources.go).
RESOURCES = {
    "docker:index/container:Container": "docker_container",
    "docker:index/network:Network": "docker_network",
    "docker:index/volume:Volume": "docker_volume",
    "docker:index/service:Service": "docker_service",
    "docker:index/serviceConfig:ServiceConfig": "docker_config",
    "docker:index/secret:Secret": "docker_secret",
}
NONE, UPDATE, REPLACE = "none", "update", "replace"


def schema_of(resource: str) -> dict:
    return _SCHEMAS["resources"][resource]["schema"]


def file_of(resource: str) -> str:
    return _SCHEMAS["resources"][resource]["file"]


# -- Pulumi names -> Terraform names ----------------------------------------------------------


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def tf_name(pulumi_name: str, schema: Mapping) -> str:
    """The bridge's name mapping: camelCase to snake_case, and a list's plural `s` dropped
    (`envs` -> `env`, `networksAdvanceds` -> `networks_advanced`, `global_`-> `global`)."""
    snake = _snake(pulumi_name).rstrip("_")
    if snake in schema:
        return snake
    if snake.endswith("s") and snake[:-1] in schema:
        return snake[:-1]
    raise KeyError(f"{pulumi_name}: not in the provider's schema ({sorted(schema)[:8]}...)")


def to_config(inputs: Mapping, schema: Mapping) -> dict:
    """Pulumi inputs (camelCase, numbers as floats) as the provider's config."""
    config = {}
    for key, value in inputs.items():
        if key.startswith("__") or value is None:
            continue
        name = tf_name(key, schema)
        config[name] = _config_value(value, schema[name])
    return config


def _config_value(value: Any, attribute: Mapping) -> Any:
    elem = attribute.get("elem")
    kind = attribute.get("type")
    if isinstance(elem, dict):
        blocks = value if isinstance(value, list) else [value]
        return [to_config(block, elem) for block in blocks]
    if kind == "int":
        return int(value)
    if kind in ("list", "set"):
        return [int(v) if elem == "int" else v for v in value]
    if kind == "map":
        return {k: str(v) for k, v in value.items()}
    return value


# -- the SDK's diff ---------------------------------------------------------------------------


@dataclass
class Change:
    path: str
    old: Any
    new: Any
    force_new: bool


@dataclass
class Plan:
    """What the provider and the engine would do with one resource."""

    urn: str
    action: str
    changes: list[Change] = field(default_factory=list)

    def describe(self) -> str:
        shown = ", ".join(
            f"{c.path}: {c.old!r} -> {c.new!r}{' (ForceNew)' if c.force_new else ''}"
            for c in self.changes[:6]
        )
        return f"{self.urn}: {self.action} [{shown}]"


def _zero(kind: str) -> Any:
    return {"string": "", "int": 0, "bool": False, "float": 0.0}.get(kind, "")


def _text(value: Any) -> str:
    """mapstructure.WeakDecode of a primitive into a string, as diffString compares them."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _suppress(name: str, attribute: Mapping, old: Any, new: Any, old_all, new_all) -> bool:
    """The schema's DiffSuppressFunc of this attribute (by the function the schema names)."""
    how = attribute.get("diffSuppressFunc")
    if how is None:
        return False
    if how == "inline" and name in ("user", "working_dir"):
        # resource_docker_container.go user/working_dir: "" is Docker's default, a no-op.
        return new in ("", None) or old == new
    if how == "suppressEquivalentFloatRatio":
        return float(old or 0) == float(new or 0)
    if how == "suppressIfPortsDidNotChangeForMigrationV0ToV1":
        return _ports_same(old_all or [], new_all or [])
    raise NotImplementedError(f"DiffSuppressFunc {how} of {name} is not modelled")


def _ports_same(old: list, new: list) -> bool:
    """resource_docker_container.go suppressIfPortsDidNotChangeForMigrationV0ToV1."""
    if len(old) != len(new):
        return False
    for port in old:
        same = [p for p in new if p.get("internal") == port.get("internal")]
        if not same:
            return False
        match = same[0]
        if match.get("protocol", "tcp") != port.get("protocol", "tcp"):
            if any(p.get("protocol", "tcp") == port.get("protocol", "tcp") for p in same):
                continue
            return False
        if match.get("external") != port.get("external") or match.get("ip") != port.get("ip"):
            return False
    return True


def _with_defaults(block: Mapping, schema: Mapping) -> dict:
    """A block as the SDK holds it: every attribute, absent ones as Default or zero value."""
    full = {}
    for name, attribute in schema.items():
        value = block.get(name)
        if value is None:
            value = attribute.get("default")
        if attribute.get("stateFunc") == "inline" and name == "ip":
            value = value or "0.0.0.0"  # ports.ip StateFunc: "" is 0.0.0.0
        elem = attribute.get("elem")
        if isinstance(elem, dict) and value is not None:
            value = [_with_defaults(b, elem) for b in value]
        full[name] = value
    return full


_EMPTY = (None, "", 0, False, [], {})


def _canonical(value: Any) -> Any:
    """A hashable form, sets as sorted tuples (schema.Set compares elements by hash; the SDK
    reads an unset field of a block as its zero value, so unset and zero hash alike)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _canonical(v)) for k, v in value.items() if v not in _EMPTY))
    if isinstance(value, list):
        return tuple(sorted((_canonical(v) for v in value), key=repr))
    if value is None:
        return None
    return _text(value)


def _has_force_new(schema: Mapping, blocks: list) -> bool:
    for block in blocks:
        for name, attribute in schema.items():
            value = block.get(name)
            if value in (None, "", [], {}, 0, False):
                continue
            if attribute.get("forcenew"):
                return True
            elem = attribute.get("elem")
            if isinstance(elem, dict) and _has_force_new(elem, value):
                return True
    return False


def diff(schema: Mapping, state: Mapping, config: Mapping, prefix: str = "") -> list[Change]:
    """The SDK's diff of config against state for one (nested) schema."""
    changes: list[Change] = []
    for name, attribute in schema.items():
        path = f"{prefix}{name}"
        old, new = state.get(name), config.get(name)
        kind, elem = attribute.get("type"), attribute.get("elem")
        force = bool(attribute.get("forcenew"))
        computed = attribute.get("computed")
        if new is None and attribute.get("default") is not None and not isinstance(elem, dict):
            new = attribute["default"]
        if kind in ("list", "set") and isinstance(elem, dict):
            old_blocks, new_blocks = old or [], new
            if new_blocks is None:
                if computed or not old_blocks:
                    continue
                new_blocks = []
            if kind == "set":
                olds = [_with_defaults(b, elem) for b in old_blocks]
                news = [_with_defaults(b, elem) for b in new_blocks]
                if sorted(map(_canonical, olds), key=repr) == sorted(
                    map(_canonical, news), key=repr
                ):
                    continue
                gone = [b for b in olds if _canonical(b) not in set(map(_canonical, news))]
                added = [b for b in news if _canonical(b) not in set(map(_canonical, olds))]
                if _suppress(name, attribute, old, new, old_blocks, new_blocks):
                    continue
                # diffSet: the parent's ForceNew counts for a changed count only; each changed
                # element's fields carry their own.
                counted = force and len(olds) != len(news)
                replace = counted or _has_force_new(elem, gone + added)
                changes.append(Change(path, gone, added, replace))
                continue
            if _suppress(name, attribute, old, new, old_blocks, new_blocks):
                continue
            # diffList: the parent's ForceNew is the count's (countSchema); the blocks' fields
            # are diffed with their own schema, so their own ForceNew decides.
            shared = min(len(old_blocks), len(new_blocks))
            for index in range(shared):
                o, n = old_blocks[index] or {}, new_blocks[index] or {}
                changes += diff(elem, o, n, f"{path}.{index}.")
            if len(old_blocks) != len(new_blocks):
                extra = old_blocks[shared:] + new_blocks[shared:]
                replace = force or _has_force_new(elem, extra)
                changes.append(Change(f"{path}.#", len(old_blocks), len(new_blocks), replace))
            continue
        if kind in ("list", "set", "map"):
            if new is None:
                if computed or not old:
                    continue
                new = [] if kind != "map" else {}
            if kind == "map":
                same = {k: _text(v) for k, v in (old or {}).items()} == {
                    k: _text(v) for k, v in new.items()
                }
            elif kind == "set":
                same = sorted(map(_text, old or [])) == sorted(map(_text, new))
            else:
                same = [_text(v) for v in old or []] == [_text(v) for v in new]
            if not same and not _suppress(name, attribute, old, new, old, new):
                changes.append(Change(path, old, new, force))
            continue
        # diffString: an absent value is the type's zero; absent and Computed never diffs.
        if new is None and computed:
            continue
        old_text = _text(old if old is not None else _zero(kind))
        new_text = _text(new if new is not None else _zero(kind))
        if old_text == new_text:
            continue
        if _suppress(name, attribute, old_text, new_text, None, None):
            continue
        changes.append(Change(path, old, new, force))
    return changes


def plan(
    type_token: str,
    urn: str,
    state: Mapping,
    inputs: Mapping,
    options: Mapping | None = None,
) -> Plan:
    """The next `pulumi up` of one resource: the provider's diff of state against the inputs,
    with the resource's ignore_changes and replace_on_changes."""
    resource = RESOURCES[type_token]
    schema = schema_of(resource)
    options = options or {}
    config = to_config(inputs, schema)
    for ignored in options.get("ignore_changes") or ():
        name = tf_name(ignored, schema)
        if name in state:
            config[name] = state[name]
        else:
            config.pop(name, None)
    changes = diff(schema, state, config)
    replace_on = {
        tf_name(p.split(".")[0].split("[")[0], schema)
        for p in options.get("replace_on_changes") or ()
    }
    if not changes:
        return Plan(urn, NONE)
    replace = any(c.force_new or c.path.split(".")[0] in replace_on for c in changes)
    return Plan(urn, REPLACE if replace else UPDATE, changes)


def created_state(type_token: str, inputs: Mapping) -> dict:
    """What Create stores before its final Read: the config with the schema's defaults."""
    schema = schema_of(RESOURCES[type_token])
    return _with_defaults(to_config(inputs, schema), schema)
