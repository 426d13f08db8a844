"""What every lab container shares: Docker names, labels, hardening, ports, uploads, health checks.

Every container the program declares is built by `part_container()`: its name, labels, limits,
network, options and the part's row of stack/hardening.py come from here, so each component
says only what is its own and the tests state the security invariants once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import pulumi
import pulumi_docker as docker

from stack.component import LabComponent
from stack.durations import go_duration
from stack.hardening import HARDENING
from stack.network import BACKEND, EDGE, EDGE_ONLY, networks_of
from stack.stopping import STOP_GRACE

NO_NEW_PRIVILEGES = "no-new-privileges:true"


@dataclass(frozen=True)
class Placement:
    """Where a component's resources go: project and stack (Docker names, labels), the lab's
    network, the address ports are published on and the host a local client dials there."""

    project: str
    stack: str
    network_name: pulumi.Input[str]  # the backend network (stack/network.py)
    bind_address: str = "127.0.0.1"
    client_host: str = "127.0.0.1"
    # The edge network; None puts the edge on network_name (one network, as in unit tests).
    edge_network_name: pulumi.Input[str] | None = None
    # The networks' Docker ids, which Swarm services join by (stack/network.service_networks).
    network_id: pulumi.Input[str] | None = None
    edge_network_id: pulumi.Input[str] | None = None

    @property
    def prefix(self) -> str:
        return f"{self.project}-{self.stack}"

    def docker_name(self, part: str) -> str:
        """`{project}-{stack}-{part}`: two labs (stacks) on one daemon never collide."""
        return f"{self.prefix}-{part}"

    def label_pairs(self, part: str) -> dict[str, str]:
        return {"lab.project": self.project, "lab.stack": self.stack, "lab.part": part}

    def container_labels(self, part: str) -> list[docker.ContainerLabelArgs]:
        return [
            docker.ContainerLabelArgs(label=key, value=value)
            for key, value in self.label_pairs(part).items()
        ]

    def volume_labels(self, part: str) -> list[docker.VolumeLabelArgs]:
        return [
            docker.VolumeLabelArgs(label=key, value=value)
            for key, value in self.label_pairs(part).items()
        ]

    def network_names(self, joins: Sequence[str] = (BACKEND,)) -> list[pulumi.Input[str]]:
        """The Docker names of the networks `joins` lists (stack/network.py EDGE, BACKEND)."""
        edge = self.network_name if self.edge_network_name is None else self.edge_network_name
        names = {EDGE: edge, BACKEND: self.network_name}
        return list(dict.fromkeys(names[which] for which in joins))

    def network_ids(self, joins: Sequence[str] = (BACKEND,)) -> list[pulumi.Input[str]]:
        """The Docker ids of the networks `joins` lists, as network_names() picks them."""
        edge = self.network_id if self.edge_network_id is None else self.edge_network_id
        ids = {EDGE: edge, BACKEND: self.network_id}
        return list(dict.fromkeys(ids[which] for which in joins))

    def network_attachment(
        self, *aliases: str, joins: Sequence[str] = (BACKEND,)
    ) -> list[docker.ContainerNetworksAdvancedArgs]:
        return [
            docker.ContainerNetworksAdvancedArgs(name=network, aliases=list(aliases))
            for network in self.network_names(joins)
        ]

    def edge_attachment(self, *aliases: str) -> list[docker.ContainerNetworksAdvancedArgs]:
        """The edge network only: how a function replica, and a user's own service, joins the
        lab (Traefik and Prometheus reach it there; it reaches no store, UI or exporter)."""
        return self.network_attachment(*aliases, joins=EDGE_ONLY)

    def publish(
        self, internal: int, external: int, protocol: str = "tcp"
    ) -> docker.ContainerPortArgs:
        return docker.ContainerPortArgs(
            internal=internal, external=external, ip=self.bind_address, protocol=protocol
        )

    def url(self, port: int, path: str = "") -> str:
        """A published port as this machine reaches it."""
        return f"http://{self.client_host}:{port}{path}"


def container_defaults(placement: Placement, part: str, *, memory_mb: int) -> dict:
    """Keyword arguments every lab container gets: name, labels, limits, hardening."""
    return {
        "name": placement.docker_name(part),
        "labels": placement.container_labels(part),
        "memory": memory_mb,
        # Swap limit equal to the memory limit: no swap. Left out, Docker stores twice the
        # memory, the provider reads that back and plans an update on every `up`, and a later
        # memory raise past it is refused (docs/verification.md, second plan).
        "memory_swap": memory_mb,
        "restart": "unless-stopped",
        "privileged": False,
        "security_opts": [NO_NEW_PRIVILEGES],
        # Keep the last container logs readable with `docker logs` without filling the disk.
        "log_driver": "json-file",
        "log_opts": {"max-size": "10m", "max-file": "3"},
        "must_run": True,
    }


@dataclass(kw_only=True)
class PartArgs:
    """What every part's Args carries: where it goes, its image, its memory, what it waits for.
    Each component's Args adds its own fields and the defaults of its part."""

    placement: Placement
    image: str
    memory_mb: int
    depends_on: list[pulumi.Resource] = field(default_factory=list)

    @classmethod
    def for_part(cls, placement: Placement, settings: Any, part: str, **own: Any):
        """The Args of `part` as the settings configure it: its pinned image, its memory and,
        when the Args has a `port`, its host port; `own` gives the rest."""
        common = {"image": settings.images[part], "memory_mb": settings.memory_mb[part]}
        if "port" in {f.name for f in fields(cls)}:
            common["port"] = settings.ports[part]
        return cls(placement=placement, **common, **own)


@dataclass(kw_only=True)
class PublishingArgs(PartArgs):
    """A part that publishes its port on the bind address."""

    port: int


def part_container(
    parent: pulumi.Resource,
    name: str,
    args: PartArgs,
    part: str,
    *,
    image: pulumi.Input[str] | None = None,
    data_dir: str | None = None,
    health: docker.ContainerHealthcheckArgs | None = None,
    wait_timeout: int | None = None,
    row: str | None = None,
    resource_name: str | None = None,
    replace_on: Sequence[str] = (),
    **arguments,
) -> docker.Container:
    """The part's container, `{name}-container` under `parent` (or `resource_name`), named and
    labelled for `part`, hardened by its row of stack/hardening.py (`row`, default the part) and
    stopped with the grace period of its row of stack/stopping.py, on the networks
    stack/network.networks_of() gives it (or `networks_advanced`, e.g.
    Placement.edge_attachment()) with `part` as its alias. `image` defaults to pulling `args.image`;
    `data_dir` mounts the part's named data volume there; `wait_timeout` makes `up` wait until
    the health check passes (dependants then start after a healthy part, not a created one).
    Every other keyword is the part's own docker.Container argument."""
    hardening = HARDENING[row or part]
    networks = networks_of(row or part)
    if image is None:
        image = remote_image(parent, name, args.image).image_id
    if data_dir is not None:
        volume = data_volume(parent, name, args.placement, part)
        mount = docker.ContainerVolumeArgs(volume_name=volume.name, container_path=data_dir)
        arguments["volumes"] = [mount, *arguments.get("volumes", ())]
    if wait_timeout is not None:
        arguments |= {"wait": True, "wait_timeout": wait_timeout}
    if hardening.user is not None:
        arguments["user"] = hardening.user
    if hardening.tmpfs:
        arguments["tmpfs"] = dict(hardening.tmpfs)
    # The provider neither replaces nor updates a container for a changed health check or
    # tmpfs (docs/product-rules.md D1): only a replacement applies it.
    replace = [
        *replace_on,
        *(["healthcheck"] if health is not None else []),
        *(["tmpfs"] if "tmpfs" in arguments else []),
    ]
    return docker.Container(
        resource_name or f"{name}-container",
        image=image,
        read_only=hardening.read_only,
        capabilities=docker.ContainerCapabilitiesArgs(
            drops=["ALL"], adds=list(hardening.cap_add) or None
        ),
        healthcheck=health,
        # The provider stops a container with this timeout before it removes it (on `down`
        # and on a replacement); without it, at once with SIGKILL (stack/stopping.py).
        destroy_grace_seconds=STOP_GRACE[row or part].seconds,
        opts=child_options(parent, args.depends_on, replace_on_changes=replace or None),
        **(
            container_defaults(args.placement, part, memory_mb=args.memory_mb)
            | {"networks_advanced": args.placement.network_attachment(part, joins=networks)}
            | arguments
        ),
    )


class PartComponent(LabComponent):
    """One lab part: a component (`lab:stack:<class name>`) around the container
    `part_container()` declares for its PART. A subclass returns that container's own arguments
    from `container_arguments()` and, from `outputs()`, what it registers once the container
    exists (setting its attributes there too)."""

    PART: ClassVar[str]
    container: docker.Container

    def declare(self, name: str, args: PartArgs) -> dict[str, Any]:
        arguments = self.container_arguments(args)
        self.container = part_container(self, name, args, self.PART, **arguments)
        return self.outputs(name, args)

    def container_arguments(self, args: Any) -> dict[str, Any]:
        raise NotImplementedError

    def outputs(self, name: str, args: Any) -> dict[str, Any]:
        return {}


class ScrapedPart(PartComponent):
    """A part Prometheus scrapes on the lab network at `{PART}:{PORT}` under job JOB, both
    given in the class statement: `class NodeExporter(ScrapedPart, port=PORT, job=JOB)`."""

    PORT: ClassVar[int]
    JOB: ClassVar[str]

    def __init_subclass__(cls, *, port: int, job: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.PORT, cls.JOB = port, job

    def outputs(self, name: str, args: Any) -> dict[str, Any]:
        self.address = f"{self.PART}:{self.PORT}"  # host:port Prometheus scrapes
        return {"address": self.address}

    def scrape_job(self) -> dict:
        return static_job(self.JOB, self.address)


def static_job(job: str, address: str) -> dict:
    """A Prometheus scrape job of one target (`host:port` on the lab network)."""
    return {"job_name": job, "static_configs": [{"targets": [address]}]}


def child_options(
    parent: pulumi.Resource, depends_on: Sequence[pulumi.Resource] = (), **extra
) -> pulumi.ResourceOptions:
    """Options of a named Docker resource: the fixed Docker name frees up before a replacement
    is created, otherwise Docker refuses the duplicate name."""
    return pulumi.ResourceOptions(
        parent=parent, depends_on=list(depends_on), delete_before_replace=True, **extra
    )


def remote_image(parent: pulumi.Resource, name: str, image: str) -> docker.RemoteImage:
    """A part's image by the reference config gives; kept on `down` so the next `up` is fast."""
    return docker.RemoteImage(
        f"{name}-image", name=image, keep_locally=True, opts=pulumi.ResourceOptions(parent=parent)
    )


def data_volume(
    parent: pulumi.Resource, name: str, placement: Placement, part: str
) -> docker.Volume:
    """A part's named data volume, `{project}-{stack}-{part}-data`, labelled like the part.

    Its data outlives the program's edits: the provider can only replace a volume whose labels
    change (docs/product-rules.md D5), so label changes are ignored; and `down` or a
    replacement leaves the Docker volume in place (`make down` removes it unless KEEP_DATA=1)."""
    return docker.Volume(
        f"{name}-data",
        name=placement.docker_name(f"{part}-data"),
        labels=placement.volume_labels(part),
        opts=child_options(parent, retain_on_delete=True, ignore_changes=["labels"]),
    )


def env_list(environment: Mapping[str, str]) -> list[str]:
    """A container's environment as Docker takes it, `KEY=value` in the mapping's order (a
    Swarm service takes the mapping itself)."""
    return [f"{key}={value}" for key, value in environment.items()]


def upload(path: str, content: pulumi.Input[str]) -> docker.ContainerUploadArgs:
    """A config file placed in the container before it starts (works on a remote daemon too)."""
    return docker.ContainerUploadArgs(file=path, content=content, permissions="0644")


def secret_upload(
    path: str, secret: pulumi.Input[str], *, owner: str
) -> docker.ContainerUploadArgs:
    """A password as a file only the part's process user can read: mode 0400, owned by that
    numeric uid (without `owner` Docker copies it as root:root, unreadable by the user). The
    content stays a Pulumi secret in the state."""
    return docker.ContainerUploadArgs(
        file=path,
        content=pulumi.Output.secret(secret),
        permissions="0400",
        owner=owner,
        group=owner,
    )


def curl_login(user: str, password: str) -> str:
    """curl's config file (`-K`) with one login: `user = "name:password"`, quoted as curl's
    config parser reads it, so a health check's command line never holds the password."""
    escaped = password.replace("\\", "\\\\").replace('"', '\\"')
    return f'user = "{user}:{escaped}"\n'


def healthcheck(
    command: Sequence[str],
    *,
    interval: str = "5s",
    timeout: str = "3s",
    retries: int = 5,
    start_period: str = "10s",
) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", *command],
        interval=go_duration(interval),
        timeout=go_duration(timeout),
        retries=retries,
        start_period=go_duration(start_period),
    )


def slow_start_healthcheck(
    command: Sequence[str], *, retries: int = 12, start_period: str = "60s"
) -> docker.ContainerHealthcheckArgs:
    """The check of a JVM or Node part (Elasticsearch, Logstash, Kibana): every 10 s, failures
    counted only after `start_period`, then `retries` more before it is unhealthy."""
    return healthcheck(command, interval="10s", retries=retries, start_period=start_period)
