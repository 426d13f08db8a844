"""Traefik v3: routes /{function}/ to the replicas, /grafana and /kibana to the UIs.

Its static and dynamic config are rendered (stack/configs/traefik_yaml.py) from the services
the program declares and uploaded; Traefik never sees the Docker socket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from stack import elasticsearch_tls as es_tls
from stack.configs import traefik_yaml
from stack.containers import PartArgs, PartComponent, healthcheck, secret_upload, upload
from stack.log_shipping import gelf_logging
from stack.settings import PORTS, TRAEFIK_API_PORT, TRAEFIK_WEB_PORT
from stack.user_services import UserService


@dataclass(kw_only=True)
class TraefikArgs(PartArgs):
    backends: Mapping[str, Sequence[str]]
    api_port: int = PORTS["api"]
    dashboard_port: int = PORTS["traefik"]
    grafana_url: str | None = None
    kibana_url: str | None = None
    # The lab's CA (PEM) when Kibana serves HTTPS (Swarm: stack/configs/elasticsearch_tls.py).
    kibana_ca: pulumi.Input[str] | None = None
    # Host names the routers answer besides 127.0.0.1 and localhost (the client host).
    hosts: Sequence[str] = ()
    # Logstash's GELF input: the JSON access log goes the way the app's lines go.
    gelf_address: str | None = None
    # lab:traefikAdminPassword: basic auth on the dashboard/API and the monitoring routes,
    # which exist only with it (Prometheus and Alertmanager have no login of their own).
    admin_password: pulumi.Input[str] | None = None
    # lab:passwordHashSalt: the users file's bcrypt salt, random per lab, stable across runs.
    hash_salt: pulumi.Input[str] | None = None
    prometheus_url: str | None = None
    alertmanager_url: str | None = None
    # lab:services: each entry and its backend URLs (stack/service_replicas.py).
    own_services: Sequence[tuple[UserService, Sequence[str]]] = ()


TRAEFIK_UID = "65534"  # its row of stack/hardening.py: nobody

# Docker never restarts a running container because it is unhealthy, so the health command
# ends Traefik itself after UNHEALTHY_STREAK failed pings in a row (its own bounded timeout, so
# Docker's check timeout never kills it before it counts) and the restart policy brings it
# back. SIGCONT first: a stopped process would hold SIGTERM forever. SIGTERM, not SIGKILL: the
# kernel drops SIGKILL sent to PID 1 from inside its own namespace.
UNHEALTHY_STREAK = 3
_STREAK_FILE = "/tmp/traefik-failed-pings"
SELF_HEALING_HEALTHCHECK = (
    "sh",
    "-c",
    f"if timeout 2 traefik healthcheck --ping >/dev/null 2>&1; then rm -f {_STREAK_FILE}; "
    f"exit 0; fi; n=$(( $(cat {_STREAK_FILE} 2>/dev/null || echo 0) + 1 )); "
    f"echo $n > {_STREAK_FILE}; "
    f"if [ $n -ge {UNHEALTHY_STREAK} ]; then kill -CONT 1; kill -TERM 1; fi; exit 1",
)


def go_memory_limit(memory_mb: int) -> str:
    """GOMEMLIMIT for a container limit: Go's GC works harder past it, leaving a quarter of the
    limit for memory Go does not count (stacks of idle connections, page cache), so Traefik
    slows down under 2,000 keep-alive connections instead of being OOM-killed (peak RSS
    measured 211 MB with 160 MiB, 232 MB without; docs/reliability.md)."""
    return f"{memory_mb * 3 // 4}MiB"


class Traefik(PartComponent):
    PART = "traefik"

    def container_arguments(self, args: TraefikArgs) -> dict:
        static = traefik_yaml.static()
        self.dynamic = dynamic = dynamic_config(args)
        path, users_text = users_file(args)
        users = [] if users_text is None else [secret_upload(path, users_text, owner=TRAEFIK_UID)]
        logging = gelf_logging(args.gelf_address, "{{.Name}}/traefik") if args.gelf_address else {}
        return dict(
            command=[f"--configFile={traefik_yaml.STATIC_FILE}"],
            envs=[f"GOMEMLIMIT={go_memory_limit(args.memory_mb)}"],
            uploads=[
                upload(traefik_yaml.STATIC_FILE, static),
                upload(traefik_yaml.DYNAMIC_FILE, dynamic),
                *users,
                *es_tls.ca_uploads(args.kibana_ca, owner=TRAEFIK_UID),
            ],
            ports=[
                args.placement.publish(TRAEFIK_WEB_PORT, args.api_port),
                args.placement.publish(TRAEFIK_API_PORT, args.dashboard_port),
            ],
            health=healthcheck(SELF_HEALING_HEALTHCHECK, interval="3s"),
            **logging,
        )

    def outputs(self, name: str, args: TraefikArgs) -> dict:
        self.api_url = args.placement.url(args.api_port)
        self.dashboard_url = args.placement.url(args.dashboard_port, "/dashboard/")
        return {
            "api_url": self.api_url,
            "dashboard_url": self.dashboard_url,
            "dynamic": self.dynamic,
        }


def dynamic_config(args: TraefikArgs, *, health_check: bool = True) -> str:
    """The routers, services and middlewares; the monitoring routes and the dashboard's basic
    auth only with the admin password (their parts have no login of their own)."""
    guarded = args.admin_password is not None
    return traefik_yaml.dynamic(
        args.backends,
        grafana_url=args.grafana_url,
        kibana_url=args.kibana_url,
        prometheus_url=args.prometheus_url if guarded else None,
        alertmanager_url=args.alertmanager_url if guarded else None,
        users_file=traefik_yaml.USERS_FILE if guarded else None,
        hosts=args.hosts,
        health_check=health_check,
        own_services=args.own_services,
        kibana_ca_file=es_tls.CLIENT_CA_FILE if args.kibana_ca else None,
    )


def users_file(args: TraefikArgs) -> tuple[str, pulumi.Output[str] | None]:
    """Where the basic-auth users file goes and its text (None without an admin password)."""
    if args.admin_password is None:
        return traefik_yaml.USERS_FILE, None
    if args.hash_salt is None:
        raise ValueError("Traefik's admin password needs hash_salt (lab:passwordHashSalt)")
    text = pulumi.Output.all(args.admin_password, args.hash_salt).apply(
        lambda values: traefik_yaml.basic_auth_users(*values)
    )
    return traefik_yaml.USERS_FILE, text
