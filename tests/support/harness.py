"""Apply the Docker resources the Pulumi program declares to the local daemon (test code).

The docker provider cannot run here, so this module does its job for the live tests: it takes
the networks, volumes, images and containers captured by tests/support/declared.py and creates
them with the Docker SDK, field by field, as tests/support/harness_inputs.py translates them
(refusing any input it does not know).

Everything created carries HARNESS_LABEL=<run id> and HARNESS_PID_LABEL=<pid>; `teardown()`
removes a run's objects, `remove_stale()` those of runs whose process is gone.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

from tests.support.declared import Declared
from tests.support.harness_inputs import (
    CONTAINER,
    IMAGE,
    NETWORK,
    REMOTE_IMAGE,
    VOLUME,
    UnsupportedDeclaration,
    check_supported,
    container_settings,
    labels_of,
    upload_archive,
)

HARNESS_LABEL = "lab.harness"
HARNESS_PID_LABEL = "lab.harness.pid"


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
                    # A failed step leaves its container, unlabelled, unless forcerm (issue 14).
                    forcerm=True,
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
            labels={**labels_of(inputs.get("labels")), **self.ownership},
        )

    def _create_volume(self, resource: Declared) -> None:
        inputs = resource.inputs
        self.client.volumes.create(
            inputs["name"],
            driver=inputs.get("driver", "local"),
            driver_opts=inputs.get("driverOpts"),
            labels={**labels_of(inputs.get("labels")), **self.ownership},
        )

    def container_settings(self, inputs: Mapping, extra_labels: Mapping[str, str] = ()) -> dict:
        """create_container() keyword arguments for a declared container's inputs."""
        return container_settings(self.client.api, inputs, {**dict(extra_labels), **self.ownership})

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
            api.put_archive(container_id, "/", upload_archive(inputs["uploads"]))
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

    def stop_as_provider(self, inputs: Mapping) -> dict:
        """Stop a declared container as the provider does before it removes it (`make down`, a
        replacement): ContainerStop with destroyGraceSeconds as the timeout, 0 s when unset
        (terraform-provider-docker v4.5.0 resource_docker_container_funcs.go,
        resourceDockerContainerDelete). Returns the container's state once stopped."""
        grace = int(inputs.get("destroyGraceSeconds") or 0)
        self.client.api.stop(inputs["name"], timeout=grace)
        return self.client.api.inspect_container(inputs["name"])["State"]

    def remove_as_provider(self, inputs: Mapping) -> None:
        """The removal that follows: forced, volumes as removeVolumes says (same function)."""
        self.client.api.remove_container(
            inputs["name"], force=True, v=bool(inputs.get("removeVolumes"))
        )

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
