"""The Swarm engine (`lab:engine: swarm`): the same parts, with the same Args, declared as
`docker.Service`s on an attachable overlay network instead of containers on a bridge.

Config files become `docker.ServiceConfig`s named after a hash of their content, so a change
creates a new config and rolls the service. Services use endpoint mode dnsrr (no virtual IP:
it needs IPVS, which not every kernel has), so `<service>` and `tasks.<service>` resolve to
the task addresses; Traefik dials `<service>` per connection and Prometheus discovers
`tasks.<service>` with DNS service discovery under the single-host job names.
"""

from __future__ import annotations

import hashlib
import posixpath

import pulumi
import pulumi_docker as docker

from app.contract import APP_PORT, APP_USER
from stack.configs import prometheus_yaml, traefik_yaml
from stack.containers import Placement
from stack.function_service import HEALTH_PROBE, FunctionServiceArgs
from stack.network import LabNetworkArgs
from stack.prometheus import DATA_DIR, PrometheusArgs
from stack.settings import PROMETHEUS_PORT, TRAEFIK_API_PORT, TRAEFIK_WEB_PORT
from stack.traefik import TraefikArgs

MIB = 1024 * 1024
# Stateful parts run where their named volume is: the node labelled lab.state=true.
STATE_CONSTRAINT = "node.labels.lab.state==true"
MANAGER_CONSTRAINT = "node.role==manager"
SPREAD_OVER_NODES = "spread=node.id"
NOBODY = "65534"


def service_name(placement: Placement, part: str) -> str:
    return placement.docker_name(part)


def config_name(placement: Placement, part: str, path: str, content: str) -> str:
    """`{project}-{stack}-{part}-{file}-{hash}`: Swarm configs are immutable, so new content
    is a new config and the service using it rolls."""
    digest = hashlib.sha256(content.encode()).hexdigest()[:12]
    stem = posixpath.basename(path).replace(".", "-")
    return f"{placement.docker_name(part)}-{stem}-{digest}"


def service_labels(placement: Placement, part: str) -> list[docker.ServiceLabelArgs]:
    return [
        docker.ServiceLabelArgs(label=key, value=value)
        for key, value in placement.label_pairs(part).items()
    ]


def _options(parent: pulumi.Resource, depends_on=()) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on))


def file_configs(
    parent: pulumi.Resource, name: str, placement: Placement, part: str, files: dict[str, str]
) -> list[docker.ServiceTaskSpecContainerSpecConfigArgs]:
    """One Swarm config per file, mounted read-only at its path for the task's user."""
    mounts = []
    for path, content in files.items():
        docker_name = config_name(placement, part, path, content)
        config = docker.ServiceConfig(
            f"{name}-{posixpath.basename(path)}",
            name=docker_name,
            data_raw=content,
            labels=[
                docker.ServiceConfigLabelArgs(label=k, value=v)
                for k, v in placement.label_pairs(part).items()
            ],
            opts=_options(parent),
        )
        mounts.append(
            docker.ServiceTaskSpecContainerSpecConfigArgs(
                config_id=config.id,
                config_name=config.name,
                file_name=path,
                file_uid=NOBODY,
                file_gid=NOBODY,
                file_mode=0o444,
            )
        )
    return mounts


def healthcheck(command, *, interval="5s", timeout="3s", retries=5, start_period="10s"):
    return docker.ServiceTaskSpecContainerSpecHealthcheckArgs(
        tests=["CMD", *command],
        interval=interval,
        timeout=timeout,
        retries=retries,
        start_period=start_period,
    )


def resources(memory_mb: int) -> docker.ServiceTaskSpecResourcesArgs:
    # The reservation is what the scheduler counts; the limit is what the kernel enforces.
    return docker.ServiceTaskSpecResourcesArgs(
        limits=docker.ServiceTaskSpecResourcesLimitsArgs(memory_bytes=memory_mb * MIB),
        reservation=docker.ServiceTaskSpecResourcesReservationArgs(
            memory_bytes=memory_mb * MIB // 2
        ),
    )


def restart_policy() -> docker.ServiceTaskSpecRestartPolicyArgs:
    return docker.ServiceTaskSpecRestartPolicyArgs(condition="any", delay="2s", window="10s")


def start_first() -> docker.ServiceUpdateConfigArgs:
    """A new task starts (and turns healthy) before the old one is stopped."""
    return docker.ServiceUpdateConfigArgs(
        order="start-first", parallelism=1, delay="2s", monitor="5s", failure_action="rollback"
    )


def networks(placement: Placement, *aliases: str) -> list:
    return [
        docker.ServiceTaskSpecNetworksAdvancedArgs(
            name=placement.network_name, aliases=list(aliases)
        )
    ]


def host_ports(*pairs: tuple[int, int]) -> docker.ServiceEndpointSpecArgs:
    """dnsrr, with ports published in host mode on the node the task runs on (the ingress
    mesh needs IPVS too)."""
    return docker.ServiceEndpointSpecArgs(
        mode="dnsrr",
        ports=[
            docker.ServiceEndpointSpecPortArgs(
                target_port=target, published_port=published, publish_mode="host"
            )
            for target, published in pairs
        ],
    )


class SwarmNetwork(pulumi.ComponentResource):
    """The lab's network as an attachable overlay spanning every node."""

    name: pulumi.Output[str]

    def __init__(self, name: str, args: LabNetworkArgs, opts=None) -> None:
        super().__init__("lab:swarm:LabNetwork", name, None, opts)
        network = docker.Network(
            f"{name}-overlay",
            name=args.docker_name,
            driver="overlay",
            attachable=True,
            labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in args.labels.items()],
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.name = network.name
        self.register_outputs({"name": self.name})


class SwarmFunctionService(pulumi.ComponentResource):
    """`lab:replicas` tasks of one function, spread over the nodes, health-checked."""

    def __init__(self, name: str, args: FunctionServiceArgs, opts=None) -> None:
        super().__init__("lab:swarm:FunctionService", name, None, opts)
        self.function = args.function
        self.docker_name = service_name(args.placement, args.function)
        log_driver = None
        if args.gelf_address:
            log_driver = docker.ServiceTaskSpecLogDriverArgs(
                name="gelf",
                options={
                    "gelf-address": args.gelf_address,
                    "tag": f"{{{{.Name}}}}/{args.function}",
                    "mode": "non-blocking",
                    "max-buffer-size": "4m",
                },
            )
        self.service = docker.Service(
            f"{name}-service",
            name=self.docker_name,
            labels=service_labels(args.placement, args.function),
            mode=docker.ServiceModeArgs(
                replicated=docker.ServiceModeReplicatedArgs(replicas=args.replicas)
            ),
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=args.image,
                    env={
                        "LAB_FUNCTION": args.function,
                        "LAB_HOST": "0.0.0.0",
                        "LAB_PORT": str(APP_PORT),
                    },
                    user=APP_USER,
                    read_only=True,
                    cap_drops=["ALL"],
                    mounts=[
                        docker.ServiceTaskSpecContainerSpecMountArgs(
                            target="/tmp",
                            type="tmpfs",
                            tmpfs_options=docker.ServiceTaskSpecContainerSpecMountTmpfsOptionsArgs(
                                size_bytes=16 * MIB
                            ),
                        )
                    ],
                    healthcheck=healthcheck(HEALTH_PROBE),
                    labels=[
                        docker.ServiceTaskSpecContainerSpecLabelArgs(label=k, value=v)
                        for k, v in {
                            **args.placement.label_pairs(args.function),
                            "lab.function": args.function,
                        }.items()
                    ],
                ),
                placement=docker.ServiceTaskSpecPlacementArgs(prefs=[SPREAD_OVER_NODES]),
                resources=resources(args.memory_mb),
                restart_policy=restart_policy(),
                networks_advanceds=networks(args.placement, args.function),
                log_driver=log_driver,
            ),
            update_config=start_first(),
            endpoint_spec=docker.ServiceEndpointSpecArgs(mode="dnsrr"),
            opts=_options(self, args.depends_on),
        )
        self.register_outputs({"function": args.function, "service": self.docker_name})

    def backend_urls(self) -> list[str]:
        # One server: dnsrr answers every healthy task, and Traefik resolves per connection.
        return [f"http://{self.docker_name}:{APP_PORT}"]

    def scrape_targets(self) -> list[str]:
        return [f"tasks.{self.docker_name}:{APP_PORT}"]


class SwarmTraefik(pulumi.ComponentResource):
    """Traefik on a manager, its entrypoints published in host mode there."""

    def __init__(self, name: str, args: TraefikArgs, opts=None) -> None:
        super().__init__("lab:swarm:Traefik", name, None, opts)
        # Traefik's own health check stays off: each backend is one dnsrr name for every task,
        # which Swarm's task health check keeps to healthy, running tasks; retries remain.
        dynamic = traefik_yaml.dynamic(
            args.backends,
            grafana_url=args.grafana_url,
            kibana_url=args.kibana_url,
            hosts=args.hosts,
            health_check=False,
        )
        files = {
            traefik_yaml.STATIC_FILE: traefik_yaml.static(),
            traefik_yaml.DYNAMIC_FILE: dynamic,
        }
        self.service = docker.Service(
            f"{name}-service",
            name=service_name(args.placement, "traefik"),
            labels=service_labels(args.placement, "traefik"),
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=args.image,
                    args=[f"--configFile={traefik_yaml.STATIC_FILE}"],
                    user=f"{NOBODY}:{NOBODY}",
                    cap_drops=["ALL"],
                    configs=file_configs(self, name, args.placement, "traefik", files),
                    healthcheck=healthcheck(["traefik", "healthcheck", "--ping"]),
                ),
                placement=docker.ServiceTaskSpecPlacementArgs(constraints=[MANAGER_CONSTRAINT]),
                resources=resources(args.memory_mb),
                restart_policy=restart_policy(),
                networks_advanceds=networks(args.placement, "traefik"),
            ),
            endpoint_spec=host_ports(
                (TRAEFIK_WEB_PORT, args.api_port), (TRAEFIK_API_PORT, args.dashboard_port)
            ),
            opts=_options(self, args.depends_on),
        )
        self.register_outputs({"dynamic": dynamic})


class SwarmPrometheus(pulumi.ComponentResource):
    """Prometheus on the state node with its named volume; functions found by DNS SD."""

    def __init__(self, name: str, args: PrometheusArgs, opts=None) -> None:
        super().__init__("lab:swarm:Prometheus", name, None, opts)
        config = prometheus_yaml.render(
            function_targets=args.function_targets,
            traefik_target=f"traefik:{TRAEFIK_API_PORT}",
            self_target=f"localhost:{PROMETHEUS_PORT}",
            rule_files=[prometheus_yaml.RULES_FILE],
            discovery="dns",
        )
        files = {prometheus_yaml.CONFIG_FILE: config, prometheus_yaml.RULES_FILE: args.rules}
        volume = args.placement.docker_name("prometheus-data")
        self.service = docker.Service(
            f"{name}-service",
            name=service_name(args.placement, "prometheus"),
            labels=service_labels(args.placement, "prometheus"),
            task_spec=docker.ServiceTaskSpecArgs(
                container_spec=docker.ServiceTaskSpecContainerSpecArgs(
                    image=args.image,
                    args=[
                        f"--config.file={prometheus_yaml.CONFIG_FILE}",
                        f"--storage.tsdb.path={DATA_DIR}",
                        f"--storage.tsdb.retention.time={args.retention}",
                        f"--storage.tsdb.retention.size={args.retention_size}",
                        # No --web.enable-lifecycle: any page could POST /-/quit (issue 14).
                    ],
                    user=f"{NOBODY}:{NOBODY}",
                    cap_drops=["ALL"],
                    configs=file_configs(self, name, args.placement, "prometheus", files),
                    mounts=[
                        docker.ServiceTaskSpecContainerSpecMountArgs(
                            target=DATA_DIR,
                            type="volume",
                            source=volume,
                            # The node creates the volume with the task: labelled like the part.
                            volume_options=docker.ServiceTaskSpecContainerSpecMountVolumeOptionsArgs(
                                labels=[
                                    docker.ServiceTaskSpecContainerSpecMountVolumeOptionsLabelArgs(
                                        label=k, value=v
                                    )
                                    for k, v in args.placement.label_pairs("prometheus").items()
                                ]
                            ),
                        )
                    ],
                    healthcheck=healthcheck(
                        ["wget", "-qO-", f"http://localhost:{PROMETHEUS_PORT}/-/healthy"]
                    ),
                ),
                placement=docker.ServiceTaskSpecPlacementArgs(constraints=[STATE_CONSTRAINT]),
                resources=resources(args.memory_mb),
                restart_policy=restart_policy(),
                networks_advanceds=networks(args.placement, "prometheus"),
            ),
            endpoint_spec=host_ports((PROMETHEUS_PORT, args.port)),
            opts=_options(self, args.depends_on),
        )
        self.register_outputs({"config": config})
