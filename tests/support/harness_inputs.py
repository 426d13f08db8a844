"""What the live harness accepts from a declared resource, and how each input maps onto the
Docker API (the provider's wire names in, Docker SDK arguments out).

Every input key the harness understands is listed in KNOWN_INPUTS; a declared key outside that
list raises UnsupportedDeclaration instead of being dropped, so the live stack is never
quietly different from the declared one.
"""

from __future__ import annotations

import base64
import io
import re
import tarfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import docker
from docker.types import Healthcheck, LogConfig, Mount, Ulimit
from docker.utils import version_lt

from tests.support.declared import Declared

NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/image:Image"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
CONTAINER = "docker:index/container:Container"

# Input keys per resource type (the provider's wire names), and per nested block.
KNOWN_INPUTS: Mapping[str, frozenset[str]] = {
    NETWORK: frozenset(
        {
            "name",
            "driver",
            "internal",
            "attachable",
            "labels",
            "options",
            "ipv6",
            "ipamConfigs",
            "ipamDriver",
            "checkDuplicate",
        }
    ),
    VOLUME: frozenset({"name", "driver", "driverOpts", "labels"}),
    IMAGE: frozenset({"imageName", "build", "skipPush", "buildOnPreview"}),
    REMOTE_IMAGE: frozenset({"name", "keepLocally", "forceRemove", "triggers", "pullTriggers"}),
    CONTAINER: frozenset(
        {
            "name",
            "image",
            "envs",
            "command",
            "entrypoints",
            "hostname",
            "workingDir",
            "user",
            "ports",
            "networksAdvanced",
            "networkMode",
            "uploads",
            "healthcheck",
            "restart",
            "maxRetryCount",
            "logDriver",
            "logOpts",
            "volumes",
            "mounts",
            "readOnly",
            "tmpfs",
            "memory",
            "memorySwap",
            "shmSize",
            "securityOpts",
            "capabilities",
            "labels",
            "init",
            "stopSignal",
            "stopTimeout",
            "sysctls",
            "ulimits",
            "groupAdds",
            "hosts",
            "dns",
            "privileged",
            # Provider behaviour rather than container settings; their meaning is honoured below.
            # (`attach` and `logs`, which run a container to completion, are not supported.)
            "mustRun",
            "start",
            "wait",
            "waitTimeout",
            "destroyGraceSeconds",
            "removeVolumes",
            "rm",
        }
    ),
}
KNOWN_BLOCKS: Mapping[str, frozenset[str]] = {
    "ports": frozenset({"internal", "external", "ip", "protocol"}),
    "networksAdvanced": frozenset({"name", "aliases"}),
    "uploads": frozenset(
        {
            "file",
            "content",
            "contentBase64",
            "source",
            "executable",
            "permissions",
            "owner",
            "group",
        }
    ),
    "healthcheck": frozenset(
        {"tests", "interval", "timeout", "startPeriod", "retries", "startInterval"}
    ),
    "volumes": frozenset({"volumeName", "containerPath", "readOnly", "hostPath"}),
    "mounts": frozenset({"target", "type", "source", "readOnly", "tmpfsOptions", "volumeOptions"}),
    "capabilities": frozenset({"adds", "drops"}),
    "labels": frozenset({"label", "value"}),
    "ulimits": frozenset({"name", "soft", "hard"}),
    "hosts": frozenset({"host", "ip"}),
    "mounts.tmpfsOptions": frozenset({"sizeBytes", "mode"}),
    "mounts.volumeOptions": frozenset({"noCopy"}),
    "build": frozenset({"context", "dockerfile", "args", "target", "platform", "builderVersion"}),
}


def _unknown_nested(urn: str, key: str, value) -> list[str]:
    """Keys inside a block (and inside its sub-blocks) that KNOWN_BLOCKS does not list."""
    problems = []
    for block in value if isinstance(value, list) else [value]:
        for nested, nested_value in block.items():
            path = f"{key}.{nested}"
            if nested not in KNOWN_BLOCKS[key]:
                problems.append(f"{urn}: input {path} is not supported")
            elif path in KNOWN_BLOCKS and nested_value:
                problems += _unknown_nested(urn, path, nested_value)
    return problems


class UnsupportedDeclaration(Exception):
    """The program declared something the harness cannot apply faithfully."""


def check_supported(resources: Iterable[Declared]) -> None:
    """Fail on any declared custom resource, input key or nested key the harness cannot apply."""
    problems = []
    for resource in resources:
        if not resource.custom:
            continue  # component resources only group children
        known = KNOWN_INPUTS.get(resource.type)
        if known is None:
            problems.append(f"{resource.urn}: resource type {resource.type} is not supported")
            continue
        for key, value in resource.inputs.items():
            if key not in known:
                problems.append(f"{resource.urn}: input {key!r} is not supported")
            elif key in KNOWN_BLOCKS:
                problems += _unknown_nested(resource.urn, key, value)
    if problems:
        raise UnsupportedDeclaration("\n".join(problems))


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_NANOSECONDS = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


def go_duration_ns(text: str) -> int:
    """A Go duration such as `5s`, `1m30s` or `500ms` in nanoseconds (the Docker API's unit)."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise UnsupportedDeclaration(f"not a duration: {text!r}")
    return int(sum(float(number) * _NANOSECONDS[unit] for number, unit in parts))


def labels_of(blocks: Iterable[Mapping] | None) -> dict[str, str]:
    return {block["label"]: block["value"] for block in blocks or ()}


def upload_archive(uploads: Iterable[Mapping]) -> bytes:
    """One tar with every upload at its absolute path, modes as the provider sets them."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for upload in uploads:
            if "content" in upload:
                data = upload["content"].encode()
            elif "contentBase64" in upload:
                data = base64.b64decode(upload["contentBase64"])
            else:
                data = Path(upload["source"]).read_bytes()
            info = tarfile.TarInfo(upload["file"].lstrip("/"))
            info.size = len(data)
            if "permissions" in upload:
                info.mode = int(str(upload["permissions"]), 8)
            else:
                info.mode = 0o755 if upload.get("executable") else 0o644
            info.uid = int(upload.get("owner", 0))
            info.gid = int(upload.get("group", 0))
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


DEFAULT_NETWORK_MODE = "bridge"


def attach_networks(api: docker.APIClient, container_id: str, inputs: Mapping) -> None:
    """resource_docker_container_funcs.go create: with networks_advanced, disconnect the
    default `bridge`, then NetworkConnect each network with its aliases (before the start), so
    the container keeps HostConfig.NetworkMode `bridge`, which Read stores as network_mode."""
    networks = inputs.get("networksAdvanced") or []
    if not networks:
        return
    api.disconnect_container_from_network(container_id, DEFAULT_NETWORK_MODE)
    for network in networks:
        api.connect_container_to_network(
            container_id, network["name"], aliases=network.get("aliases")
        )


def container_settings(api: docker.APIClient, inputs: Mapping, labels: Mapping[str, str]) -> dict:
    """create_container() keyword arguments for a declared container's inputs; `labels` are
    added to the declared ones (the harness marks what it owns)."""
    port_bindings: dict[str, list] = {}
    for port in inputs.get("ports") or ():
        if "external" not in port:
            raise UnsupportedDeclaration(f"{inputs['name']}: port without external port")
        # Pulumi numbers arrive as floats; the Docker API wants integers.
        key = f"{int(port['internal'])}/{port.get('protocol', 'tcp')}"
        binding = (port.get("ip", "0.0.0.0"), int(port["external"]))
        port_bindings.setdefault(key, []).append(binding)
    binds = {}
    for volume in inputs.get("volumes") or ():
        source = volume.get("volumeName") or volume.get("hostPath")
        if source is None:
            raise UnsupportedDeclaration(f"{inputs['name']}: volume without a source")
        mode = "ro" if volume.get("readOnly") else "rw"
        binds[source] = {"bind": volume["containerPath"], "mode": mode}
    mounts = [
        Mount(
            target=m["target"],
            source=m.get("source"),
            type=m["type"],
            read_only=m.get("readOnly", False),
            tmpfs_size=(m.get("tmpfsOptions") or {}).get("sizeBytes"),
            tmpfs_mode=(m.get("tmpfsOptions") or {}).get("mode"),
            no_copy=(m.get("volumeOptions") or {}).get("noCopy", False),
        )
        for m in inputs.get("mounts") or ()
    ]
    restart = inputs.get("restart", "no")
    restart_policy = {"Name": "" if restart == "no" else restart}
    if restart == "on-failure":
        restart_policy["MaximumRetryCount"] = int(inputs.get("maxRetryCount", 0))
    log_config = None
    if "logDriver" in inputs:
        log_config = LogConfig(type=inputs["logDriver"], config=inputs.get("logOpts") or {})
    elif "logOpts" in inputs:
        raise UnsupportedDeclaration(f"{inputs['name']}: logOpts without logDriver")
    capabilities = inputs.get("capabilities") or {}
    megabytes = {
        key: f"{int(inputs[key])}m"
        for key in ("memory", "memorySwap", "shmSize")
        if inputs.get(key)
    }
    host_config = api.create_host_config(
        port_bindings=port_bindings or None,
        binds=binds or None,
        mounts=mounts or None,
        restart_policy=restart_policy,
        log_config=log_config,
        read_only=inputs.get("readOnly"),
        tmpfs=inputs.get("tmpfs"),
        mem_limit=megabytes.get("memory"),
        memswap_limit=megabytes.get("memorySwap"),
        shm_size=megabytes.get("shmSize"),
        security_opt=inputs.get("securityOpts"),
        cap_add=capabilities.get("adds"),
        cap_drop=capabilities.get("drops"),
        init=inputs.get("init"),
        sysctls=inputs.get("sysctls"),
        ulimits=[
            Ulimit(name=u["name"], soft=int(u["soft"]), hard=int(u["hard"]))
            for u in inputs.get("ulimits") or ()
        ]
        or None,
        group_add=inputs.get("groupAdds"),
        dns=inputs.get("dns"),
        extra_hosts={h["host"]: h["ip"] for h in inputs.get("hosts") or ()} or None,
        # The schema's default (resource_docker_container.go `network_mode`, Default "bridge"):
        # the provider creates on it, then moves to networks_advanced (attach_networks()).
        network_mode=inputs.get("networkMode", DEFAULT_NETWORK_MODE),
        auto_remove=inputs.get("rm", False),
        privileged=inputs.get("privileged", False),
    )
    healthcheck = None
    if "healthcheck" in inputs:
        check = inputs["healthcheck"]
        durations = {
            api_key: go_duration_ns(check[key])
            for key, api_key in (
                ("interval", "interval"),
                ("timeout", "timeout"),
                ("startPeriod", "start_period"),
            )
            if check.get(key) and check[key] != "0s"
        }
        healthcheck = Healthcheck(
            test=check["tests"], retries=int(check.get("retries", 0)), **durations
        )
        if check.get("startInterval") and check["startInterval"] != "0s":
            if version_lt(api._version, "1.44"):
                # Older daemons ignore the field; the check would run differently.
                raise UnsupportedDeclaration(
                    f"{inputs['name']}: healthcheck.startInterval needs Docker API 1.44, "
                    f"this daemon speaks {api._version}"
                )
            healthcheck["StartInterval"] = go_duration_ns(check["startInterval"])
    return {
        "image": inputs["image"],
        "name": inputs["name"],
        "command": inputs.get("command"),
        "entrypoint": inputs.get("entrypoints"),
        "environment": inputs.get("envs"),
        "hostname": inputs.get("hostname"),
        "working_dir": inputs.get("workingDir"),
        "user": inputs.get("user"),
        "ports": [tuple(key.split("/")) for key in port_bindings] or None,
        "volumes": [b["bind"] for b in binds.values()] or None,
        "labels": {**labels_of(inputs.get("labels")), **dict(labels)},
        "healthcheck": healthcheck,
        "stop_signal": inputs.get("stopSignal"),
        "stop_timeout": int(inputs["stopTimeout"]) if "stopTimeout" in inputs else None,
        "host_config": host_config,
        # Networks are joined after create, as the provider does: attach_networks().
        "networking_config": None,
    }
