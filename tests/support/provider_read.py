"""The docker provider's Read rules: what its state holds after it inspected a container,
network, volume, config or secret (terraform-provider-docker v4.5.0; see
tests/support/provider_model.py). Services: tests/support/provider_read_service.py."""

from __future__ import annotations

import base64
from collections.abc import Mapping

# Labels the live harnesses add so their teardown finds their own objects: not declared, so
# stripped from what the daemon answers before the provider's Read sees it.
HARNESS_LABELS = ("lab.harness", "lab.harness.pid", "lab.swarm-harness")


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


def read_config(inspect: Mapping, prior: Mapping) -> dict:
    """resourceDockerConfigRead (resource_docker_config.go): data_raw when the state has it,
    else data as base64."""
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
