"""Prometheus: scrapes Traefik, every replica and itself; evaluates the lab's rules. With the
lab's passwords it serves behind its own login (stack/configs/web_config.py), and publishes its
port only when lab:publishMonitoringPorts asks (Traefik's /prometheus/ is the way in)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from stack.configs import prometheus_yaml, web_config
from stack.containers import PartComponent, PublishingArgs, healthcheck, secret_upload, upload
from stack.settings import PROMETHEUS_PORT, TRAEFIK_API_PORT, LabSettings

DATA_DIR = "/prometheus"
HEALTH_URL = f"http://localhost:{PROMETHEUS_PORT}/-/healthy"
HEALTH_COMMAND = ("wget", "-qO-", HEALTH_URL)  # without a login (`make local`'s loopback)
NOBODY = "65534"  # Prometheus' and Alertmanager's images run as nobody


@dataclass(kw_only=True)
class PrometheusArgs(PublishingArgs):
    function_targets: Mapping[str, Sequence[str]]
    rules: str
    retention: str = LabSettings.prometheus_retention
    retention_size: str = LabSettings.prometheus_retention_size
    lifecycle: bool = LabSettings.lifecycle
    # Where browsers reach it through Traefik (…/prometheus/), for the links its UI writes.
    public_url: str | None = None
    # Where alerts go (None: nowhere but Prometheus' own page) and jobs beyond its own
    # (probes, node-exporter), as prometheus_yaml.render takes them.
    alertmanager_url: str | None = None
    extra_jobs: Sequence[Mapping[str, Any]] = ()
    # Its own login (web_config): the person's and the lab's passwords and the hashes' salt;
    # all None: no login. The direct port only with lab:publishMonitoringPorts.
    admin_password: pulumi.Input[str] | None = None
    monitoring_password: pulumi.Input[str] | None = None
    hash_salt: pulumi.Input[str] | None = None
    publish: bool = False


def guarded(args: Any) -> bool:
    """Whether a Prometheus or Alertmanager Args asks for the web config's login."""
    given = [args.admin_password, args.monitoring_password, args.hash_salt]
    if any(value is None for value in given) and any(value is not None for value in given):
        raise ValueError("the web config needs admin_password, monitoring_password, hash_salt")
    return given[0] is not None


def login_files(args: Any) -> dict[str, pulumi.Output[str]]:
    """The web config and the monitoring user's password and Authorization header, by path
    (each a 0400 secret for nobody); {} without a login."""
    if not guarded(args):
        return {}
    monitoring = pulumi.Output.from_input(args.monitoring_password)
    config = pulumi.Output.all(args.admin_password, monitoring, args.hash_salt).apply(
        lambda values: web_config.render(
            admin_password=values[0], monitoring_password=values[1], lab_salt=values[2]
        )
    )
    return {
        web_config.WEB_CONFIG_FILE: config,
        web_config.PASSWORD_FILE: monitoring,
        web_config.AUTH_HEADER_FILE: monitoring.apply(web_config.authorization),
    }


def health_command(args: Any, url: str) -> Sequence[str]:
    """The health check of a Prometheus or Alertmanager Args: signed in when it has a login."""
    return web_config.health_command(url) if guarded(args) else ("wget", "-qO-", url)


class Prometheus(PartComponent):
    PART = "prometheus"

    def container_arguments(self, args: PrometheusArgs) -> dict:
        self.config = config = prometheus_yaml.render(
            function_targets=args.function_targets,
            traefik_target=f"traefik:{TRAEFIK_API_PORT}",
            self_target=f"localhost:{PROMETHEUS_PORT}",
            rule_files=[prometheus_yaml.RULES_FILE],
            alertmanager_url=args.alertmanager_url,
            extra_jobs=args.extra_jobs,
            client_auth=web_config.basic_auth() if guarded(args) else None,
        )
        secrets = [
            secret_upload(path, text, owner=NOBODY) for path, text in login_files(args).items()
        ]
        return dict(
            data_dir=DATA_DIR,
            # The image's entrypoint is the prometheus binary; these replace its default flags.
            command=flags(args),
            uploads=[
                upload(prometheus_yaml.CONFIG_FILE, config),
                upload(prometheus_yaml.RULES_FILE, args.rules),
                *secrets,
            ],
            ports=[args.placement.publish(PROMETHEUS_PORT, args.port)] if args.publish else [],
            health=healthcheck(health_command(args, HEALTH_URL)),
            # Grafana starts after Prometheus answers, not merely after it was created.
            wait_timeout=120,
        )

    def outputs(self, name: str, args: PrometheusArgs) -> dict:
        self.url = args.placement.url(args.port) if args.publish else args.public_url
        return {"url": self.url, "config": self.config}


def flags(args: PrometheusArgs) -> list[str]:
    """Prometheus's command line (its image's entrypoint is the binary; these replace the
    default flags), for the container and the Swarm service alike."""
    return [
        f"--config.file={prometheus_yaml.CONFIG_FILE}",
        f"--storage.tsdb.path={DATA_DIR}",
        f"--storage.tsdb.retention.time={args.retention}",
        f"--storage.tsdb.retention.size={args.retention_size}",
        *prometheus_yaml.FEATURE_FLAGS,
        # Links for browsers under Traefik's /prometheus/, routes still at / here.
        *(
            [f"--web.external-url={args.public_url}", "--web.route-prefix=/"]
            if args.public_url
            else []
        ),
        *([f"--web.config.file={web_config.WEB_CONFIG_FILE}"] if guarded(args) else []),
        # Off unless lab:lifecycle asks: it lets anyone reaching the port POST /-/quit
        # (issue 11); a config change replaces the container through its upload anyway.
        *(["--web.enable-lifecycle"] if args.lifecycle else []),
    ]
