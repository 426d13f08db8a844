"""Alertmanager: receives Prometheus' alerts, groups and inhibits them, sends them on."""

from __future__ import annotations

from dataclasses import dataclass

from stack.configs import alertmanager_yaml
from stack.containers import PartComponent, PublishingArgs, healthcheck, upload
from stack.settings_tables import ALERTMANAGER_SUB_PATH as SUB_PATH

DATA_DIR = "/alertmanager"


@dataclass(kw_only=True)
class AlertmanagerArgs(PublishingArgs):
    config: str  # alertmanager_yaml.render(...)
    public_url: str | None = None  # the UI as browsers reach it, e.g. through Traefik


class Alertmanager(PartComponent):
    PART = "alertmanager"

    def container_arguments(self, args: AlertmanagerArgs) -> dict:
        internal = f"http://localhost:{alertmanager_yaml.PORT}{SUB_PATH}"
        return dict(
            data_dir=DATA_DIR,
            # The entrypoint is the alertmanager binary; these replace its default flags.
            command=[
                f"--config.file={alertmanager_yaml.CONFIG_FILE}",
                f"--storage.path={DATA_DIR}",
                f"--web.external-url={args.public_url or internal}",
                f"--web.route-prefix={SUB_PATH}",
                # One instance: no gossip port, no peers to look for.
                "--cluster.listen-address=",
            ],
            uploads=[upload(alertmanager_yaml.CONFIG_FILE, args.config)],
            ports=[args.placement.publish(alertmanager_yaml.PORT, args.port)],
            health=healthcheck(["wget", "-qO-", f"{internal}/-/healthy"]),
            wait_timeout=60,
        )

    def outputs(self, name: str, args: AlertmanagerArgs) -> dict:
        self.url = args.placement.url(args.port, f"{SUB_PATH}/")
        # What Prometheus is told: host:port and the path prefix (prometheus_yaml.render).
        self.internal_url = f"http://alertmanager:{alertmanager_yaml.PORT}{SUB_PATH}"
        return {"url": self.url}
