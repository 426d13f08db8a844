"""The docker provider's state and plan, modelled from its source, for resources on a real daemon.

pulumi-docker 5.2.0 bridges kreuzwerker/terraform-provider-docker v4.5.0 (docs/verification.md).
Neither can run here, so this module plays their part after the live harness applied the lab:

- Read rules: `read_container`, `read_network`, `read_volume`, `read_service` turn what the
  daemon's inspect answers into the provider's state, as its Read functions do
  (internal/provider/resource_docker_container_funcs.go resourceDockerContainerRead,
  resource_docker_network_funcs.go resourceDockerNetworkReadRefreshFunc,
  resource_docker_volume.go resourceDockerVolumeRead, resource_docker_service_funcs.go
  resourceDockerServiceReadRefreshFunc with resource_docker_service_structures.go's flatten*
  functions and shortDur). The prior state they start from is what Create stored: the config
  with the schema's defaults (Create ends with Read, so the same overlay applies).
- Diff rules: `plan()` diffs that state against the declared inputs with the schema's flags
  (tests/support/provider_schema.json, extracted from the same tag by
  tests/support/provider_schema_extract.py) and the Terraform plugin SDK's diff of each type
  (helper/schema/schema.go schemaMap.diffString/diffList/diffSet/diffMap: an absent Optional
  value diffs as its zero value, an absent Computed one never diffs, a ForceNew change
  replaces, a DiffSuppressFunc can hide a change), then Pulumi's resource options
  (`ignore_changes` keeps the old value; `replace_on_changes` turns an update of that
  property into a replacement: pkg/resource/deploy/step_generator.go applyReplaceOnChanges).

The result per resource is "none", "update" or "replace", with the changed paths.
"""

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
# Labels the live harnesses add so their teardown finds their own objects: not declared, so
# stripped from what the daemon answers before the provider's Read sees it.
HARNESS_LABELS = ("lab.harness", "lab.harness.pid", "lab.swarm-harness")


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


# -- Read rules -------------------------------------------------------------------------------


def _own_labels(labels: Mapping | None) -> list[dict]:
    """helpers.go mapToLabelSet, without the harness's ownership labels."""
    return [{"label": k, "value": v} for k, v in (labels or {}).items() if k not in HARNESS_LABELS]


def go_duration(nanoseconds: int) -> str:
    """Go's time.Duration.String() (src/time/time.go) for whole and fractional seconds:
    `1m0s`, `1m30s`, `1h0m0s`, `500ms`, `0s`."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    n = abs(nanoseconds)
    if n < 10**9:
        for unit, size in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
            if n >= size:
                whole, rest = divmod(n, size)
                frac = f".{rest:0{len(str(size)) - 1}d}".rstrip("0") if rest else ""
                return f"{sign}{whole}{frac.rstrip('.')}{unit}"
    hours, rest = divmod(n, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds, fraction = divmod(rest, 10**9)
    text = f"{seconds}" + (f".{fraction:09d}".rstrip("0") if fraction else "") + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return f"{sign}{text}"


def short_dur(nanoseconds: int) -> str:
    """resource_docker_service_structures.go shortDur: Duration.String() without a trailing
    `m0s`, then without a trailing `h0m` (`1m0s` -> `1m`, `1h0m0s` -> `1h`)."""
    text = go_duration(nanoseconds)
    if text.endswith("m0s"):
        text = text[:-2]
    if text.endswith("h0m"):
        text = text[:-2]
    return text


def read_container(inspect: Mapping, prior: Mapping) -> dict:
    """resourceDockerContainerRead (resource_docker_container_funcs.go) over `prior`."""
    state = dict(prior)
    host, config = inspect["HostConfig"], inspect["Config"]
    running = inspect["State"]["Running"]
    if state.get("ports") and (running or state.get("must_run")):
        state["ports"] = _flatten_container_ports(inspect["NetworkSettings"].get("Ports") or {})
    if not running and state.get("must_run"):
        state["must_run"] = False
    state |= {
        "name": inspect["Name"].lstrip("/"),
        "rm": host.get("AutoRemove", False),
        "read_only": host.get("ReadonlyRootfs", False),
        "image": config["Image"],
        "hostname": config.get("Hostname"),
        "domainname": config.get("Domainname"),
        "command": config.get("Cmd"),
        "entrypoint": config.get("Entrypoint"),
        "user": config.get("User"),
        "dns": host.get("Dns"),
        "dns_opts": host.get("DnsOptions"),
        "security_opts": host.get("SecurityOpt"),
        "dns_search": host.get("DnsSearch"),
        "publish_all_ports": host.get("PublishAllPorts", False),
        "restart": host["RestartPolicy"]["Name"],
        "max_retry_count": host["RestartPolicy"].get("MaximumRetryCount", 0),
        "init": bool(host.get("Init")),
        "working_dir": config.get("WorkingDir"),
        "runtime": host.get("Runtime"),
        "platform": inspect.get("Platform"),
        "mounts": [_flatten_container_mount(m) for m in host.get("Mounts") or []],
        "tmpfs": host.get("Tmpfs"),
        "host": [
            dict(zip(("host", "ip"), entry.split(":")[:2], strict=True))
            for entry in host.get("ExtraHosts") or []
        ],
        "privileged": host.get("Privileged", False),
        "memory": host.get("Memory", 0) // 1024 // 1024,
        "memory_reservation": _megabytes(host.get("MemoryReservation", 0)),
        "memory_swap": _megabytes(host.get("MemorySwap", 0)),
        "shm_size": host.get("ShmSize", 0) // 1024 // 1024,
        "cpu_shares": host.get("CpuShares", 0),
        "cpu_set": host.get("CpusetCpus", ""),
        "log_driver": host["LogConfig"]["Type"],
        "storage_opts": host.get("StorageOpt"),
        "network_mode": host.get("NetworkMode"),
        "userns_mode": host.get("UsernsMode"),
        "sysctls": host.get("Sysctls"),
        "ipc_mode": host.get("IpcMode"),
        "group_add": host.get("GroupAdd"),
        "tty": config.get("Tty", False),
        "stdin_open": config.get("OpenStdin", False),
        "stop_signal": config.get("StopSignal"),
        "stop_timeout": config.get("StopTimeout"),
    }
    if host.get("CapAdd") or host.get("CapDrop"):
        state["capabilities"] = [{"add": host.get("CapAdd"), "drop": host.get("CapDrop")}]
    if prior.get("ulimit"):
        state["ulimit"] = [
            {"name": u["Name"], "soft": u["Soft"], "hard": u["Hard"]} for u in host["Ulimits"]
        ]
    if prior.get("log_opts"):
        state["log_opts"] = host["LogConfig"].get("Config")
    if prior.get("pid_mode"):
        state["pid_mode"] = host.get("PidMode")
    check = config.get("Healthcheck")
    if check is not None:
        state["healthcheck"] = [
            {
                "test": check.get("Test"),
                "interval": go_duration(check.get("Interval", 0)),
                "timeout": go_duration(check.get("Timeout", 0)),
                "start_period": go_duration(check.get("StartPeriod", 0)),
                "start_interval": go_duration(check.get("StartInterval", 0)),
                "retries": check.get("Retries", 0),
            }
        ]
    return state


def _megabytes(value: int) -> int:
    # Read: memory_reservation and memory_swap / 1024 / 1024 when > 0, else as is (-1).
    return value // 1024 // 1024 if value > 0 else value


def _flatten_container_ports(ports: Mapping) -> list[dict]:
    """resource_docker_container_structures.go flattenContainerPorts (sorted by port)."""
    out = []
    for key in sorted(ports, key=lambda k: (int(k.split("/")[0]), k.split("/")[1])):
        internal, protocol = key.split("/")
        for binding in ports[key] or []:
            out.append(
                {
                    "internal": int(internal),
                    "external": int(binding["HostPort"] or 0),
                    "ip": binding["HostIp"],
                    "protocol": protocol,
                }
            )
    return out


def _flatten_container_mount(mount: Mapping) -> dict:
    """resource_docker_container_structures.go getDockerContainerMounts."""
    out = {
        "target": mount["Target"],
        "source": mount.get("Source", ""),
        "type": mount["Type"],
        "read_only": mount.get("ReadOnly", False),
    }
    if mount.get("TmpfsOptions") is not None:
        options = mount["TmpfsOptions"]
        out["tmpfs_options"] = [
            {"size_bytes": options.get("SizeBytes", 0), "mode": options.get("Mode", 0)}
        ]
    return out


def read_network(inspect: Mapping, prior: Mapping) -> dict:
    """resourceDockerNetworkReadRefreshFunc (resource_docker_network_funcs.go)."""
    ipam = inspect.get("IPAM") or {}
    return dict(prior) | {
        "name": inspect["Name"],
        "labels": _own_labels(inspect.get("Labels")),
        "driver": inspect["Driver"],
        "internal": inspect.get("Internal", False),
        "attachable": inspect.get("Attachable", False),
        "ingress": inspect.get("Ingress", False),
        "ipv6": inspect.get("EnableIPv6", False),
        "ipam_driver": ipam.get("Driver"),
        "ipam_options": ipam.get("Options"),
        "scope": inspect.get("Scope"),
        "options": inspect.get("Options"),
    }


def read_volume(inspect: Mapping, prior: Mapping) -> dict:
    """resourceDockerVolumeRead (resource_docker_volume.go)."""
    return dict(prior) | {
        "name": inspect["Name"],
        "labels": _own_labels(inspect.get("Labels")),
        "driver": inspect["Driver"],
        "driver_opts": inspect.get("Options"),
        "mountpoint": inspect.get("Mountpoint"),
    }


def read_service(inspect: Mapping, prior: Mapping) -> dict:
    """resourceDockerServiceReadRefreshFunc (resource_docker_service_funcs.go) with the
    flatten* functions of resource_docker_service_structures.go."""
    spec = inspect["Spec"]
    state = dict(prior) | {
        "name": spec["Name"],
        "labels": _own_labels(spec.get("Labels")),
        "task_spec": [_flatten_task_spec(spec["TaskTemplate"])],
        "mode": [_flatten_mode(spec["Mode"])],
        "update_config": _flatten_update(spec.get("UpdateConfig")),
        "rollback_config": _flatten_update(spec.get("RollbackConfig")),
    }
    endpoint = inspect.get("Endpoint") or {}
    if (endpoint.get("Spec") or {}).get("Mode"):
        state["endpoint_spec"] = [
            {"mode": endpoint["Spec"]["Mode"], "ports": _flatten_ports(endpoint.get("Ports"))}
        ]
    else:
        own = spec.get("EndpointSpec") or {}
        state["endpoint_spec"] = [
            {"mode": own.get("Mode"), "ports": _flatten_ports(own.get("Ports"))}
        ]
    return state


def _flatten_mode(mode: Mapping) -> dict:
    out = {"global": "Global" in mode}
    if "Replicated" in mode:
        replicas = mode["Replicated"].get("Replicas")
        out["replicated"] = [{"replicas": replicas} if replicas is not None else {}]
    return out


def _flatten_update(update: Mapping | None) -> list:
    if update is None:
        return []
    return [
        {
            "parallelism": update.get("Parallelism", 0),
            "delay": short_dur(update.get("Delay", 0)),
            "failure_action": update.get("FailureAction", ""),
            "monitor": short_dur(update.get("Monitor", 0)),
            "max_failure_ratio": f"{float(update.get('MaxFailureRatio', 0)):.1f}",
            "order": update.get("Order", ""),
        }
    ]


def _flatten_ports(ports) -> list:
    return [
        {
            "name": p.get("Name", ""),
            "protocol": p.get("Protocol", ""),
            "target_port": p.get("TargetPort", 0),
            "published_port": p.get("PublishedPort", 0),
            "publish_mode": p.get("PublishMode", ""),
        }
        for p in ports or []
    ]


def _flatten_task_spec(task: Mapping) -> dict:
    out: dict = {"force_update": task.get("ForceUpdate", 0)}
    if task.get("ContainerSpec") is not None:
        out["container_spec"] = [_flatten_container_spec(task["ContainerSpec"])]
    if task.get("Resources") is not None:
        resources = task["Resources"]
        out["resources"] = [
            {
                "limits": _limits(resources.get("Limits")),
                "reservation": _limits(resources.get("Reservations"), generic=True),
            }
        ]
    if task.get("RestartPolicy") is not None:
        policy = task["RestartPolicy"]
        flat = {}
        if policy.get("Condition"):
            flat["condition"] = policy["Condition"]
        if policy.get("Delay") is not None:
            flat["delay"] = short_dur(policy["Delay"])
        if policy.get("MaxAttempts") is not None:
            flat["max_attempts"] = policy["MaxAttempts"]
        if policy.get("Window") is not None:
            flat["window"] = short_dur(policy["Window"])
        out["restart_policy"] = [flat]
    if task.get("Placement") is not None:
        placement = task["Placement"]
        flat = {"max_replicas": placement.get("MaxReplicas", 0)}
        if placement.get("Constraints"):
            flat["constraints"] = placement["Constraints"]
        if placement.get("Preferences"):
            flat["prefs"] = [p["Spread"]["SpreadDescriptor"] for p in placement["Preferences"]]
        out["placement"] = [flat]
    if task.get("Runtime"):
        out["runtime"] = task["Runtime"]
    if task.get("Networks"):
        out["networks_advanced"] = [
            {
                "id": n["Target"],
                "driver_opts": [f"{k}={v}" for k, v in (n.get("DriverOpts") or {}).items()],
                **({"aliases": n["Aliases"]} if n.get("Aliases") else {}),
            }
            for n in task["Networks"]
        ]
    if task.get("LogDriver") is not None:
        driver = task["LogDriver"]
        out["log_driver"] = [
            {
                "name": driver["Name"],
                **({"options": driver["Options"]} if driver.get("Options") else {}),
            }
        ]
    return out


def _limits(limits: Mapping | None, generic: bool = False) -> list:
    if limits is None:
        return []
    out = {"nano_cpus": limits.get("NanoCPUs", 0), "memory_bytes": limits.get("MemoryBytes", 0)}
    if generic:
        out["generic_resources"] = []
    return [out]


def _flatten_container_spec(spec: Mapping) -> dict:
    """flattenContainerSpec: only what is set (len > 0) is read back."""
    out: dict = {}
    simple = (
        ("Image", "image"),
        ("Command", "command"),
        ("Args", "args"),
        ("Hostname", "hostname"),
        ("User", "user"),
        ("Dir", "dir"),
        ("Groups", "groups"),
        ("StopSignal", "stop_signal"),
        ("Isolation", "isolation"),
        ("Sysctls", "sysctl"),
        ("CapabilityAdd", "cap_add"),
        ("CapabilityDrop", "cap_drop"),
    )
    for api, name in simple:
        if spec.get(api):
            out[name] = spec[api]
    if spec.get("Labels"):
        out["labels"] = _own_labels(spec["Labels"])
    if spec.get("Env"):
        out["env"] = dict(item.split("=", 1) for item in spec["Env"])
    if spec.get("ReadOnly"):
        out["read_only"] = True
    if spec.get("Mounts"):
        out["mounts"] = [_flatten_service_mount(m) for m in spec["Mounts"]]
    if spec.get("StopGracePeriod") is not None:
        out["stop_grace_period"] = short_dur(spec["StopGracePeriod"])
    if spec.get("Healthcheck") is not None:
        check = spec["Healthcheck"]
        out["healthcheck"] = [
            {
                **({"test": check["Test"]} if check.get("Test") else {}),
                "interval": short_dur(check.get("Interval", 0)),
                "timeout": short_dur(check.get("Timeout", 0)),
                "start_period": short_dur(check.get("StartPeriod", 0)),
                "retries": check.get("Retries", 0),
            }
        ]
    for kind in ("Secret", "Config"):
        references = spec.get(f"{kind}s")
        if references:
            out[f"{kind.lower()}s"] = [_flatten_reference(r, kind) for r in references]
    if spec.get("Init") is not None:
        out["init"] = spec["Init"]
    return out


def _flatten_reference(reference: Mapping, kind: str) -> dict:
    """flattenServiceSecrets / flattenServiceConfigs."""
    low = kind.lower()
    out = {f"{low}_id": reference[f"{kind}ID"]}
    if reference.get(f"{kind}Name"):
        out[f"{low}_name"] = reference[f"{kind}Name"]
    file = reference.get("File")
    if file is not None:
        out["file_name"] = file["Name"]
        if file.get("UID"):
            out["file_uid"] = file["UID"]
        if file.get("GID"):
            out["file_gid"] = file["GID"]
        out["file_mode"] = file.get("Mode", 0)
    return out


def _flatten_service_mount(mount: Mapping) -> dict:
    """flattenServiceMounts."""
    out = {
        "target": mount["Target"],
        "source": mount.get("Source", ""),
        "type": mount["Type"],
        "read_only": mount.get("ReadOnly", False),
    }
    if mount.get("BindOptions") is not None:
        propagation = mount["BindOptions"].get("Propagation")
        out["bind_options"] = [{"propagation": propagation} if propagation else {}]
    if mount.get("VolumeOptions") is not None:
        options = mount["VolumeOptions"]
        flat = {
            "no_copy": options.get("NoCopy", False),
            "labels": _own_labels(options.get("Labels")),
        }
        driver = options.get("DriverConfig")
        if driver is not None:
            if driver.get("Name"):
                flat["driver_name"] = driver["Name"]
            flat["driver_options"] = driver.get("Options") or {}
        out["volume_options"] = [flat]
    if mount.get("TmpfsOptions") is not None:
        options = mount["TmpfsOptions"]
        out["tmpfs_options"] = [
            {"size_bytes": options.get("SizeBytes", 0), "mode": options.get("Mode", 0) & 0o777}
        ]
    return out


def read_config(inspect: Mapping, prior: Mapping) -> dict:
    """resourceDockerConfigRead (resource_docker_config.go): data_raw when the state has it,
    else data as base64."""
    import base64

    data = base64.b64decode(inspect["Spec"].get("Data") or "")
    state = dict(prior) | {
        "name": inspect["Spec"]["Name"],
        "labels": _own_labels(inspect["Spec"].get("Labels")),
    }
    if prior.get("data_raw"):
        state["data_raw"] = data.decode()
    else:
        state["data"] = base64.b64encode(data).decode()
    return state


def read_secret(inspect: Mapping, prior: Mapping) -> dict:
    """resourceDockerSecretRead (resource_docker_secret.go): only the name (the data is never
    returned by Swarm, and the labels are not read)."""
    return dict(prior) | {"name": inspect["Spec"]["Name"]}
