"""Apply the Docker resources the Pulumi program declares to the local daemon (test code).

The docker provider cannot run here, so this module does its job for the live tests: it takes
the networks, volumes, images and containers captured by tests/live/declared.py and creates
them with the Docker SDK, field by field. Every input key the harness understands is listed in
KNOWN_INPUTS; a declared key outside that list raises UnsupportedDeclaration instead of being
dropped, so the live stack is never quietly different from the declared one.

Everything created carries HARNESS_LABEL=<run id> and HARNESS_PID_LABEL=<pid>; `teardown()`
removes a run's objects, `remove_stale()` those of runs whose process is gone.
"""

from __future__ import annotations

import base64
import io
import os
import re
import tarfile
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
from docker.types import EndpointConfig, Healthcheck, LogConfig, Mount, Ulimit
from docker.utils import version_lt

from tests.live.declared import Declared

HARNESS_LABEL = "lab.harness"
HARNESS_PID_LABEL = "lab.harness.pid"

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


def _labels(blocks: Iterable[Mapping] | None) -> dict[str, str]:
    return {block["label"]: block["value"] for block in blocks or ()}


def _upload_archive(uploads: Iterable[Mapping]) -> bytes:
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


@dataclass
class AppliedLab:
    """A declared lab applied to the daemon: what was declared, and the run that owns it."""

    project: str
    stack: str
    run_id: str
    resources: list[Declared]
    containers: dict[str, Mapping] = field(default_factory=dict)  # container name -> inputs

    def of_type(self, type_token: str) -> list[Declared]:
        return [resource for resource in self.resources if resource.type == type_token]


class Harness:
    """Creates declared resources with the Docker SDK and removes them again."""

    def __init__(self, client: docker.DockerClient, base_dir: Path, run_id: str | None = None):
        self.client = client
        self.base_dir = base_dir
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.ownership = {HARNESS_LABEL: self.run_id, HARNESS_PID_LABEL: str(os.getpid())}

    # -- apply -------------------------------------------------------------------------------

    def apply(self, project: str, stack: str, resources: list[Declared]) -> AppliedLab:
        check_supported(resources)
        lab = AppliedLab(project=project, stack=stack, run_id=self.run_id, resources=resources)
        by_urn = {resource.urn: resource for resource in resources}
        for resource in self._in_dependency_order(resources):
            if resource.type in (IMAGE, REMOTE_IMAGE):
                self._ensure_image(resource)
            elif resource.type == NETWORK:
                self._create_network(resource)
            elif resource.type == VOLUME:
                self._create_volume(resource)
            elif resource.type == CONTAINER:
                self._wait_for_dependencies(resource, by_urn)
                self._run_container(resource)
                lab.containers[resource.inputs["name"]] = resource.inputs
        self.wait_healthy(lab.containers, timeout=120)
        return lab

    def _custom_dependencies(self, resource: Declared, by_urn: Mapping[str, Declared]) -> set[str]:
        """Dependencies with components expanded to their custom descendants, and the parent's
        dependencies inherited (a child of a component waits for what its parent waits for)."""
        found: set[str] = set()
        pending = list(resource.dependencies)
        parent = by_urn.get(resource.parent)
        while parent is not None:
            pending.extend(parent.dependencies)
            parent = by_urn.get(parent.parent)
        seen: set[str] = set()
        while pending:
            urn = pending.pop()
            if urn in seen or urn not in by_urn:
                continue
            seen.add(urn)
            if by_urn[urn].custom:
                found.add(urn)
            else:
                pending.extend(r.urn for r in by_urn.values() if r.parent == urn)
        return found

    def _in_dependency_order(self, resources: list[Declared]) -> list[Declared]:
        by_urn = {resource.urn: resource for resource in resources}
        ordered: list[Declared] = []
        done: set[str] = set()
        visiting: set[str] = set()

        def visit(resource: Declared) -> None:
            if resource.urn in done:
                return
            if resource.urn in visiting:
                raise UnsupportedDeclaration(f"dependency cycle through {resource.urn}")
            visiting.add(resource.urn)
            for urn in sorted(self._custom_dependencies(resource, by_urn)):
                visit(by_urn[urn])
            visiting.discard(resource.urn)
            done.add(resource.urn)
            ordered.append(resource)

        for resource in resources:
            if resource.custom:
                visit(resource)
        return ordered

    def _ensure_image(self, resource: Declared) -> None:
        inputs = resource.inputs
        tag = inputs["imageName"] if resource.type == IMAGE else inputs["name"]
        build = inputs.get("build")
        if build:
            context = (self.base_dir / build.get("context", ".")).resolve()
            dockerfile = build.get("dockerfile")
            if dockerfile is not None:
                dockerfile = str((self.base_dir / dockerfile).resolve())
            try:
                self.client.images.build(
                    path=str(context),
                    dockerfile=dockerfile,
                    tag=tag,
                    rm=True,
                    buildargs=dict(build.get("args") or {}),
                    target=build.get("target"),
                    platform=build.get("platform"),
                )
            except docker.errors.BuildError as exc:
                log = "".join(line.get("stream", "") for line in exc.build_log)
                raise UnsupportedDeclaration(
                    f"{resource.urn}: build failed:\n{log[-3000:]}"
                ) from exc
            return
        try:
            self.client.images.get(tag)
        except docker.errors.ImageNotFound as exc:
            raise UnsupportedDeclaration(
                f"{resource.urn}: image {tag} is not on this daemon and no registry is reachable"
                " (bash scripts/build_images.sh builds the stand-ins)"
            ) from exc

    def _create_network(self, resource: Declared) -> None:
        inputs = resource.inputs
        if inputs.get("ipamConfigs") or inputs.get("ipamDriver"):
            raise UnsupportedDeclaration(f"{resource.urn}: IPAM settings are not supported")
        self.client.networks.create(
            inputs["name"],
            driver=inputs.get("driver", "bridge"),
            internal=inputs.get("internal", False),
            attachable=inputs.get("attachable", False),
            enable_ipv6=inputs.get("ipv6", False),
            options=inputs.get("options"),
            labels={**_labels(inputs.get("labels")), **self.ownership},
        )

    def _create_volume(self, resource: Declared) -> None:
        inputs = resource.inputs
        self.client.volumes.create(
            inputs["name"],
            driver=inputs.get("driver", "local"),
            driver_opts=inputs.get("driverOpts"),
            labels={**_labels(inputs.get("labels")), **self.ownership},
        )

    def container_settings(self, inputs: Mapping, extra_labels: Mapping[str, str] = ()) -> dict:
        """create_container() keyword arguments for a declared container's inputs."""
        api = self.client.api
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
            network_mode=inputs.get("networkMode"),
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
        networks = inputs.get("networksAdvanced") or []
        networking_config = None
        if networks:
            first = networks[0]
            networking_config = {
                "EndpointsConfig": {
                    first["name"]: EndpointConfig(api._version, aliases=first.get("aliases"))
                }
            }
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
            "labels": {**_labels(inputs.get("labels")), **dict(extra_labels), **self.ownership},
            "healthcheck": healthcheck,
            "stop_signal": inputs.get("stopSignal"),
            "stop_timeout": int(inputs["stopTimeout"]) if "stopTimeout" in inputs else None,
            "host_config": host_config,
            "networking_config": networking_config,
        }

    def create_container(self, inputs: Mapping, extra_labels: Mapping[str, str] = ()) -> str:
        """Create (not start) a container as declared, uploads in place; returns its id."""
        api = self.client.api
        settings = self.container_settings(inputs, extra_labels)
        ports = settings.pop("ports")
        created = api.create_container(
            **settings, ports=[(int(p), proto) for p, proto in ports] if ports else None
        )
        container_id = created["Id"]
        for network in (inputs.get("networksAdvanced") or [])[1:]:
            api.connect_container_to_network(
                container_id, network["name"], aliases=network.get("aliases")
            )
        if inputs.get("uploads"):
            # Uploads land before the first start, as the provider does, so the process reads
            # its config at start-up.
            api.put_archive(container_id, "/", _upload_archive(inputs["uploads"]))
        return container_id

    def _run_container(self, resource: Declared) -> None:
        inputs = resource.inputs
        container_id = self.create_container(inputs)
        if inputs.get("start", True):
            self.client.api.start(container_id)
        if inputs.get("wait"):
            self.wait_healthy(
                {inputs["name"]: inputs}, timeout=float(inputs.get("waitTimeout", 60))
            )

    def _wait_for_dependencies(self, resource: Declared, by_urn: Mapping[str, Declared]) -> None:
        """A container starts after the containers it depends on are healthy (or running)."""
        needed = {
            by_urn[urn].inputs["name"]: by_urn[urn].inputs
            for urn in self._custom_dependencies(resource, by_urn)
            if by_urn[urn].type == CONTAINER
        }
        if needed:
            self.wait_healthy(needed, timeout=90)

    def wait_healthy(self, containers: Mapping[str, Mapping], timeout: float) -> None:
        """Wait until each container is healthy (running, when it declares no health check)."""
        deadline = time.monotonic() + timeout
        pending = dict(containers)
        while pending:
            for name in list(pending):
                state = self.client.api.inspect_container(name)["State"]
                if state.get("Status") in ("exited", "dead") and not state.get("Restarting"):
                    logs = self.client.api.logs(name, tail=30).decode(errors="replace")
                    raise RuntimeError(
                        f"container {name} exited ({state.get('ExitCode')}):\n{logs}"
                    )
                health = (state.get("Health") or {}).get("Status")
                if state.get("Running") and health in (None, "healthy"):
                    del pending[name]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"not healthy after {timeout:.0f} s: {sorted(pending)}")
            time.sleep(0.5)

    # -- teardown ----------------------------------------------------------------------------

    def teardown(self) -> None:
        remove_labelled(self.client, f"{HARNESS_LABEL}={self.run_id}")


def remove_labelled(client: docker.DockerClient, label_filter: str) -> list[str]:
    """Remove every container, then network and volume matching a label filter."""
    removed = []
    for container in client.containers.list(all=True, filters={"label": label_filter}):
        container.remove(force=True, v=True)
        removed.append(f"container {container.name}")
    for network in client.networks.list(filters={"label": label_filter}):
        network.remove()
        removed.append(f"network {network.name}")
    for volume in client.volumes.list(filters={"label": label_filter}):
        volume.remove(force=True)
        removed.append(f"volume {volume.name}")
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(client: docker.DockerClient) -> list[str]:
    """Remove what earlier harness runs left behind when their process died without teardown."""
    runs = set()
    for listing in (
        client.containers.list(all=True, filters={"label": HARNESS_LABEL}),
        client.networks.list(filters={"label": HARNESS_LABEL}),
        client.volumes.list(filters={"label": HARNESS_LABEL}),
    ):
        for item in listing:
            labels = item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels") or {}
            runs.add((labels.get(HARNESS_LABEL), labels.get(HARNESS_PID_LABEL, "0")))
    removed = []
    for run_id, pid in runs:
        if not _process_alive(int(pid)) or int(pid) == os.getpid():
            removed += remove_labelled(client, f"{HARNESS_LABEL}={run_id}")
    return removed


def leftovers(client: docker.DockerClient, label_filter: str = HARNESS_LABEL) -> list[str]:
    """Names of containers, networks and volumes that still carry a label."""
    return (
        [
            f"container {c.name}"
            for c in client.containers.list(all=True, filters={"label": label_filter})
        ]
        + [f"network {n.name}" for n in client.networks.list(filters={"label": label_filter})]
        + [f"volume {v.name}" for v in client.volumes.list(filters={"label": label_filter})]
    )
