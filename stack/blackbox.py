"""The blackbox exporter: probes the API through Traefik and each part's health endpoint."""

from __future__ import annotations

from dataclasses import dataclass

from stack.configs import blackbox_yaml
from stack.containers import PartArgs, PartComponent, healthcheck, upload
from stack.settings import MEMORY_MB


@dataclass(kw_only=True)
class BlackboxArgs(PartArgs):
    config: str  # blackbox_yaml.render(...)
    memory_mb: int = MEMORY_MB["blackbox"]


class Blackbox(PartComponent):
    PART = "blackbox"
    # host:port Prometheus scrapes the probes through (blackbox_yaml.scrape_jobs(exporter=)).
    address: str

    def container_arguments(self, args: BlackboxArgs) -> dict:
        return dict(
            command=[f"--config.file={blackbox_yaml.CONFIG_FILE}"],
            uploads=[upload(blackbox_yaml.CONFIG_FILE, args.config)],
            # No published port: only Prometheus, on the lab network, asks it to probe.
            health=healthcheck(
                ["wget", "-qO-", f"http://localhost:{blackbox_yaml.PORT}/-/healthy"]
            ),
        )

    def outputs(self, name: str, args: BlackboxArgs) -> dict:
        self.address = f"blackbox:{blackbox_yaml.PORT}"
        return {"address": self.address}
