"""The docker provider's Read rule of a Swarm service: resourceDockerServiceReadRefreshFunc
(resource_docker_service_funcs.go) with the flatten* functions and shortDur of
resource_docker_service_structures.go (terraform-provider-docker v4.5.0)."""

from __future__ import annotations

from collections.abc import Mapping

from tests.support.provider_read import _own_labels, short_dur


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
