"""The Swarm engine (`lab:engine: swarm`): the same parts, with the same Args, declared as
`docker.Service`s on an attachable overlay network instead of containers on a bridge.

Services use endpoint mode dnsrr (no virtual IP: it needs IPVS, which not every kernel has),
so `<service>` and `tasks.<service>` resolve to the task addresses; Traefik dials `<service>`
per connection and Prometheus discovers `tasks.<service>` with DNS service discovery under the
single-host job names. What every service shares is in stack/swarm_objects.py; the monitoring
parts are in stack/swarm_monitoring.py, Grafana and the Elastic stack in stack/swarm_state.py.
"""

from __future__ import annotations

from app.contract import APP_PORT
from stack import elasticsearch_tls, function_service, prometheus, traefik
from stack.component import SwarmComponent
from stack.configs import prometheus_yaml, traefik_yaml, web_config
from stack.function_service import HEALTH_PROBE, FunctionServiceArgs
from stack.network import LabNetwork, LabNetworkArgs, edge_networks
from stack.prometheus import DATA_DIR, PrometheusArgs
from stack.settings import PROMETHEUS_PORT, TRAEFIK_API_PORT, TRAEFIK_WEB_PORT
from stack.swarm_objects import (
    MANAGER_CONSTRAINT,
    STATE_CONSTRAINT,
    PartService,
    gelf_driver,
    healthcheck,
    host_ports,
    part_service,
    service_name,
    start_first,
)
from stack.traefik import TRAEFIK_UID, TraefikArgs, go_memory_limit


class SwarmLabNetwork(LabNetwork):
    """The lab's two networks as attachable overlays spanning every node."""

    ENGINE = "swarm"
    DRIVER = "overlay"

    def driver_arguments(self, args: LabNetworkArgs) -> dict:
        # Plain containers (a probe, `docker run --network`) join an overlay only when it is
        # attachable; services join it either way. `encrypted` (any value, moby's overlay
        # driver reads the key's presence) turns on IPsec ESP between the nodes.
        encrypted = {"options": {"encrypted": ""}} if args.encrypted else {}
        return {"attachable": True, **encrypted}


class SwarmFunctionService(SwarmComponent):
    """`lab:replicas` tasks of one function, spread over the nodes, health-checked; with
    Logstash, each task's output goes by the gelf driver to the state node's address."""

    def declare(self, name: str, args: FunctionServiceArgs) -> dict:
        self.function = args.function
        self.docker_name = service_name(args.placement, args.function)
        self.service = part_service(
            self,
            name,
            args,
            args.function,
            row="function",
            spread=True,
            replicas=args.replicas,
            update_config=start_first(),
            task_labels={"lab.function": args.function},
            env=function_service.environment(args.function),
            healthcheck=healthcheck(HEALTH_PROBE),
            log_driver=gelf_driver(args.gelf_address, f"{{{{.Name}}}}/{args.function}"),
            networks_advanceds=edge_networks(args.placement, args.function),
        )
        return {"function": args.function, "service": self.docker_name}

    def backend_urls(self) -> list[str]:
        # One server: dnsrr answers every healthy task, and Traefik resolves per connection.
        return [f"http://{self.docker_name}:{APP_PORT}"]

    def scrape_targets(self) -> list[str]:
        return [f"tasks.{self.docker_name}:{APP_PORT}"]


class SwarmTraefik(PartService):
    """Traefik on a manager, its entrypoints published in host mode there."""

    PART = "traefik"

    def service_arguments(self, args: TraefikArgs) -> dict:
        # Traefik's own health check stays off: each backend is one dnsrr name for every task,
        # which Swarm's task health check keeps to healthy, running tasks; retries remain.
        self.files = {
            traefik_yaml.STATIC_FILE: traefik_yaml.static(),
            traefik_yaml.DYNAMIC_FILE: traefik.dynamic_config(args, health_check=False),
        }
        users = {path: text for path, text in [traefik.users_file(args)] if text is not None}
        if args.kibana_ca:  # Kibana's HTTPS, verified with the lab's CA
            users[elasticsearch_tls.CLIENT_CA_FILE] = args.kibana_ca
        return dict(
            args=[f"--configFile={traefik_yaml.STATIC_FILE}"],
            env={"GOMEMLIMIT": go_memory_limit(args.memory_mb)},
            configs=self.configs(self.files),
            secrets=self.secrets(users, owner=TRAEFIK_UID) or None,
            healthcheck=healthcheck(["traefik", "healthcheck", "--ping"]),
            constraints=[MANAGER_CONSTRAINT],
            endpoint=host_ports(
                (TRAEFIK_WEB_PORT, args.api_port), (TRAEFIK_API_PORT, args.dashboard_port)
            ),
            log_driver=gelf_driver(args.gelf_address, "{{.Name}}/traefik"),
        )

    def outputs(self, args: TraefikArgs) -> dict:
        return {"dynamic": self.files[traefik_yaml.DYNAMIC_FILE]}


class SwarmPrometheus(PartService):
    """Prometheus on the state node with its named volume; functions found by DNS SD."""

    PART = "prometheus"

    def service_arguments(self, args: PrometheusArgs) -> dict:
        self.config = prometheus_yaml.render(
            function_targets=args.function_targets,
            traefik_target=f"traefik:{TRAEFIK_API_PORT}",
            self_target=f"localhost:{PROMETHEUS_PORT}",
            rule_files=[prometheus_yaml.RULES_FILE],
            discovery="dns",
            alertmanager_url=args.alertmanager_url,
            extra_jobs=args.extra_jobs,
            client_auth=web_config.basic_auth() if prometheus.guarded(args) else None,
        )
        files = {prometheus_yaml.CONFIG_FILE: self.config, prometheus_yaml.RULES_FILE: args.rules}
        return dict(
            args=prometheus.flags(args),
            configs=self.configs(files),
            secrets=self.secrets(prometheus.login_files(args), owner=prometheus.NOBODY) or None,
            data_dir=DATA_DIR,
            healthcheck=healthcheck(prometheus.health_command(args, prometheus.HEALTH_URL)),
            constraints=[STATE_CONSTRAINT],
            endpoint=host_ports((PROMETHEUS_PORT, args.port)) if args.publish else None,
        )

    def outputs(self, args: PrometheusArgs) -> dict:
        self.url = args.placement.url(args.port) if args.publish else args.public_url
        return {"config": self.config}
