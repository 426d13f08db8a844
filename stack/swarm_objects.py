"""What every Swarm service of the lab shares (`lab:engine: swarm`): names, labels, configs and
secrets as Swarm objects, placement, health checks, limits, and `part_service()`, the builder of
one part's `docker.Service` with its row of stack/hardening.py, as stack/containers.py is for
the single-host containers.

Configs and secrets are immutable in Swarm, so each one is named after a hash of its content:
new content is a new object and the service using it rolls to a new task.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pulumi
import pulumi_docker as docker

from stack.component import SwarmComponent
from stack.containers import PartArgs, Placement
from stack.durations import service_duration
from stack.hardening import HARDENING
from stack.log_shipping import gelf_logging
from stack.network import networks_of, service_networks
from stack.stopping import STOP_GRACE, swarm_duration
from stack.swarm_converge import converge_config

MIB = 1024 * 1024
# Stateful parts run where their named volumes are: the node labelled lab.state=true.
STATE_CONSTRAINT = "node.labels.lab.state==true"
MANAGER_CONSTRAINT = "node.role==manager"
SPREAD_OVER_NODES = "spread=node.id"
NOBODY = HARDENING["traefik"].user.split(":")[0]  # the uid the exporters and Traefik run as
# A task's hostname as its node's: Swarm expands the template per task, so node-exporter's
# node_uname_info{nodename} names the node (Docker's service templates: hostname, env, mounts).
NODE_HOSTNAME = "{{.Node.Hostname}}"


def service_name(placement: Placement, part: str) -> str:
    return placement.docker_name(part)


# Swarm refuses a config or secret name over 64 characters, or one outside [a-zA-Z0-9-_.]
# (swarmkit manager/controlapi/common.go validateConfigOrSecretAnnotations; the live suite
# met it: "invalid name, only 64 [a-zA-Z0-9-_.] characters allowed").
OBJECT_NAME_MAX = 64
DIGEST_LENGTH = 12


def _versioned(placement: Placement, part: str, path: str, content: str) -> str:
    digest = hashlib.sha256(content.encode()).hexdigest()[:DIGEST_LENGTH]
    stem = posixpath.basename(path).replace(".", "-")
    readable = f"{placement.docker_name(part)}-{stem}"[: OBJECT_NAME_MAX - DIGEST_LENGTH - 1]
    return f"{readable.rstrip('-_.')}-{digest}"


def config_name(placement: Placement, part: str, path: str, content: str) -> str:
    """`{project}-{stack}-{part}-{file}-{hash}`: Swarm configs are immutable, so new content
    is a new config and the service using it rolls."""
    return _versioned(placement, part, path, content)


def resource_name(name: str, path: str) -> str:
    """The Pulumi name of a file's config or secret: its whole path, since two parts' files can
    share a base name (Grafana's datasources/lab.yml and dashboards/lab.yml)."""
    return f"{name}-{path.strip('/').replace('/', '-')}"


def service_labels(placement: Placement, part: str) -> list[docker.ServiceLabelArgs]:
    return [
        docker.ServiceLabelArgs(label=key, value=value)
        for key, value in placement.label_pairs(part).items()
    ]


def options(parent: pulumi.Resource, depends_on=(), **extra) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on), **extra)


def _mounted(files, *, kind: str, declare, mount, owner: str, mode: int) -> list:
    """`declare(path, content)` each file as a Swarm `kind` (config or secret) and mount it at
    its path for uid/gid `owner` with `mode`."""
    mounts = []
    for path, content in files.items():
        item = declare(path, content)
        mounts.append(
            mount(
                **{f"{kind}_id": item.id, f"{kind}_name": item.name},
                file_name=path,
                file_uid=owner,
                file_gid=owner,
                file_mode=mode,
            )
        )
    return mounts


def file_configs(
    parent: pulumi.Resource,
    name: str,
    placement: Placement,
    part: str,
    files: Mapping[str, str],
    *,
    owner: str = NOBODY,
) -> list[docker.ServiceTaskSpecContainerSpecConfigArgs]:
    """One Swarm config per file, mounted read-only (0444) at its path, owned by `owner`."""
    labels = placement.label_pairs(part).items()

    def declare(path: str, content: str) -> docker.ServiceConfig:
        return docker.ServiceConfig(
            resource_name(name, path),
            name=config_name(placement, part, path, content),
            data_raw=content,
            labels=[docker.ServiceConfigLabelArgs(label=k, value=v) for k, v in labels],
            opts=options(parent),
        )

    mount = docker.ServiceTaskSpecContainerSpecConfigArgs
    return _mounted(files, kind="config", declare=declare, mount=mount, owner=owner, mode=0o444)


def secret_files(
    parent: pulumi.Resource,
    name: str,
    placement: Placement,
    part: str,
    files: Mapping[str, pulumi.Input[str]],
    *,
    owner: str,
) -> list[docker.ServiceTaskSpecContainerSpecSecretArgs]:
    """One Swarm secret per password file, mounted at its path mode 0400 for uid `owner` only
    (the process's own user: root-owned it could not read it). The provider wants the data
    base64-encoded (terraform-provider-docker v4.5.0 resource_docker_secret.go decodes it with
    StdEncoding); the name carries a hash of the content, as configs do, so a new password is a
    new secret and the service rolls (a secret in use cannot be replaced under the same name)."""
    labels = placement.label_pairs(part).items()

    def declare(path: str, value: pulumi.Input[str]) -> docker.Secret:
        content = pulumi.Output.secret(value)
        return docker.Secret(
            resource_name(name, path),
            name=content.apply(lambda text: _versioned(placement, part, path, text)),
            data=content.apply(lambda text: base64.b64encode(text.encode()).decode()),
            labels=[docker.SecretLabelArgs(label=k, value=v) for k, v in labels],
            opts=options(parent),
        )

    mount = docker.ServiceTaskSpecContainerSpecSecretArgs
    return _mounted(files, kind="secret", declare=declare, mount=mount, owner=owner, mode=0o400)


def healthcheck(command, *, interval="5s", timeout="3s", retries=5, start_period="10s"):
    return docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
        tests=["CMD", *command],
        interval=service_duration(interval),
        timeout=service_duration(timeout),
        retries=retries,
        start_period=service_duration(start_period),
    )


def slow_start_healthcheck(command, *, retries: int = 12, start_period: str = "60s"):
    """The check of a JVM or Node part, as stack/containers.slow_start_healthcheck."""
    return healthcheck(command, interval="10s", retries=retries, start_period=start_period)


def resources(memory_mb: int) -> docker.ServiceTaskSpecResourcesArgs:
    # The reservation is what the scheduler counts; the limit is what the kernel enforces.
    return docker.ServiceTaskSpecResourcesArgs(
        limits=docker.ServiceTaskSpecResourcesLimitsArgs(memory_bytes=memory_mb * MIB),
        reservation=docker.ServiceTaskSpecResourcesReservationArgs(
            memory_bytes=memory_mb * MIB // 2
        ),
    )


def restart_policy() -> docker.ServiceTaskSpecRestartPolicyArgs:
    delay, window = service_duration("2s"), service_duration("10s")
    return docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay=delay, window=window)


def start_first() -> docker.ServiceUpdateConfigArgs:
    """A new task starts (and turns healthy) before the old one is stopped."""
    delay, monitor = service_duration("2s"), service_duration("5s")
    return docker.ServiceUpdateConfigArgs(
        order="start-first", parallelism=1, delay=delay, monitor=monitor, failure_action="rollback"
    )


def host_ports(*pairs: tuple[int, int], protocol: str = "tcp") -> docker.ServiceEndpointSpecArgs:
    """dnsrr, with ports published in host mode on the node the task runs on (the ingress
    mesh needs IPVS too)."""
    return docker.ServiceEndpointSpecArgs(
        mode="dnsrr",
        ports=[
            docker.ServiceEndpointSpecPortArgs(
                target_port=target,
                published_port=published,
                publish_mode="host",
                protocol=protocol,
            )
            for target, published in pairs
        ],
    )


def gelf_driver(gelf_address: str | None, tag: str):
    """The gelf log driver with stack/log_shipping.py's options, or None without Logstash."""
    if not gelf_address:
        return None
    logging = gelf_logging(gelf_address, tag)
    return docker.ServiceTaskSpecLogDriverArgs(
        name=logging["log_driver"], options=logging["log_opts"]
    )


def data_mount(placement: Placement, part: str, target: str):
    """The part's named volume `{project}-{stack}-{part}-data`, created by the node with the
    task (so on the state node), labelled like the part."""
    return docker.ServiceTaskSpecContainerSpecMountArgs(
        target=target,
        type="volume",
        source=placement.docker_name(f"{part}-data"),
        volume_options=docker.ServiceTaskSpecContainerSpecMountVolumeOptionsArgs(
            labels=[
                docker.ServiceTaskSpecContainerSpecMountVolumeOptionsLabelArgs(label=k, value=v)
                for k, v in placement.label_pairs(part).items()
            ]
        ),
    )


def part_service(
    parent: pulumi.Resource,
    name: str,
    part_args: PartArgs,
    part: str,
    /,
    *,
    row: str | None = None,
    constraints: Sequence[str] = (),
    spread: bool = False,
    replicas: int | None = None,
    global_mode: bool = False,
    update_config: docker.ServiceUpdateConfigArgs | None = None,
    task_labels: Mapping[str, str] | None = None,
    endpoint: docker.ServiceEndpointSpecArgs | None = None,
    data_dir: str | None = None,
    mounts: Sequence = (),
    log_driver=None,
    networks_advanceds: Sequence | None = None,
    **container,
) -> docker.Service:
    """The part's service `{project}-{stack}-{part}` under `parent`: its hardening row (`row`,
    else the part's: user, read-only root, tmpfs, every capability dropped), labels, memory,
    restart policy, the networks stack/network.networks_of() gives it (or `networks_advanceds`,
    e.g. stack/network.edge_networks()) with `part` as alias, its data volume at `data_dir`, its
    placement (`constraints`, `spread` over the nodes) and mode (`replicas` tasks or one per
    node); `container` holds the part's own container-spec arguments (`args`, env, configs,
    secrets, healthcheck, hostname)."""
    hardening = HARDENING[row or part]
    tmpfs = [
        docker.ServiceTaskSpecContainerSpecMountArgs(
            target=path,
            type="tmpfs",
            tmpfs_options=docker.ServiceTaskSpecContainerSpecMountTmpfsOptionsArgs(
                size_bytes=16 * MIB
            ),
        )
        for path in hardening.tmpfs
    ]
    volume = [data_mount(part_args.placement, part, data_dir)] if data_dir else []
    # A replicated service always names its count: the converge wait reads it.
    count = docker.ServiceModeReplicatedArgs(replicas=1 if replicas is None else replicas)
    mode = docker.ServiceModeArgs(**({"global_": True} if global_mode else {"replicated": count}))
    placement = None
    if constraints or spread:
        placement = docker.ServiceTaskSpecPlacementArgs(
            constraints=list(constraints) or None, prefs=[SPREAD_OVER_NODES] if spread else None
        )
    return docker.Service(
        f"{name}-service",
        name=service_name(part_args.placement, part),
        labels=service_labels(part_args.placement, part),
        mode=mode,
        task_spec=docker.ServiceTaskSpecArgs(
            container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                image=part_args.image,
                user=hardening.user,
                read_only=hardening.swarm_read_only or None,
                cap_drops=["ALL"],
                stop_grace_period=swarm_duration(STOP_GRACE[row or part].seconds),
                mounts=[*volume, *tmpfs, *mounts] or None,
                labels=[
                    docker.ServiceTaskSpecContainerSpecLabelArgs(label=k, value=v)
                    for k, v in {
                        **part_args.placement.label_pairs(part),
                        **(task_labels or {}),
                    }.items()
                ],
                **container,
            ),
            placement=placement,
            resources=resources(part_args.memory_mb),
            restart_policy=restart_policy(),
            networks_advanceds=networks_advanceds
            or service_networks(part_args.placement, part, joins=networks_of(row or part)),
            log_driver=log_driver,
        ),
        update_config=update_config,
        converge_config=None if global_mode else converge_config(container.get("healthcheck")),
        endpoint_spec=endpoint or docker.ServiceEndpointSpecArgs(mode="dnsrr"),
        opts=options(parent, part_args.depends_on, delete_before_replace=True),
    )


class PartService(SwarmComponent):
    """One lab part on Swarm: a component (`lab:swarm:<class name without Swarm>`) around the
    service `part_service()` declares for its PART, as stack/containers.PartComponent is on one
    host. A subclass returns the service's own arguments from `service_arguments()` (its files
    through `configs()` and `secrets()`) and, from `outputs()`, what it registers once the
    service exists (setting its attributes there too)."""

    PART: ClassVar[str]
    container: docker.Service

    def declare(self, name: str, args: PartArgs) -> dict[str, Any]:
        self.name, self.placement = name, args.placement
        self.container = part_service(self, name, args, self.PART, **self.service_arguments(args))
        return self.outputs(args)

    def service_arguments(self, args: Any) -> dict[str, Any]:
        raise NotImplementedError

    def outputs(self, args: Any) -> dict[str, Any]:
        return {}

    def configs(self, files: Mapping[str, str], owner: str = NOBODY) -> list:
        """The part's files as Swarm configs (file_configs())."""
        return file_configs(self, self.name, self.placement, self.PART, files, owner=owner)

    def secrets(self, files: Mapping[str, pulumi.Input[str]], owner: str) -> list:
        """The part's password files as Swarm secrets (secret_files())."""
        return secret_files(self, self.name, self.placement, self.PART, files, owner=owner)
