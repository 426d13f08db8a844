"""Prometheus: scrapes Traefik, every replica and itself; evaluates the lab's rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stack.configs import prometheus_yaml
from stack.containers import PartComponent, PublishingArgs, healthcheck, upload
from stack.settings import PROMETHEUS_PORT, TRAEFIK_API_PORT, LabSettings

DATA_DIR = "/prometheus"
HEALTH_COMMAND = ("wget", "-qO-", f"http://localhost:{PROMETHEUS_PORT}/-/healthy")


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
        )
        return dict(
            data_dir=DATA_DIR,
            # The image's entrypoint is the prometheus binary; these replace its default flags.
            command=flags(args),
            uploads=[
                upload(prometheus_yaml.CONFIG_FILE, config),
                upload(prometheus_yaml.RULES_FILE, args.rules),
            ],
            ports=[args.placement.publish(PROMETHEUS_PORT, args.port)],
            health=healthcheck(HEALTH_COMMAND),
            # Grafana starts after Prometheus answers, not merely after it was created.
            wait_timeout=120,
        )

    def outputs(self, name: str, args: PrometheusArgs) -> dict:
        self.url = args.placement.url(args.port)
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
        # Off unless lab:lifecycle asks: it lets anyone reaching the port POST /-/quit
        # (issue 11); a config change replaces the container through its upload anyway.
        *(["--web.enable-lifecycle"] if args.lifecycle else []),
    ]
