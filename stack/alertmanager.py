"""Alertmanager: receives Prometheus' alerts, groups and inhibits them, sends them on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from stack.configs import alertmanager_yaml
from stack.containers import (
    PartComponent,
    PublishingArgs,
    healthcheck,
    secret_upload,
    upload,
)
from stack.settings_tables import ALERTMANAGER_SUB_PATH as SUB_PATH

DATA_DIR = "/alertmanager"


@dataclass(kw_only=True)
class AlertmanagerArgs(PublishingArgs):
    config: str  # alertmanager_yaml.render(...)
    public_url: str | None = None  # the UI as browsers reach it, e.g. through Traefik
    # lab:alertReceivers' secrets: file path -> value, read through Alertmanager's *_file fields.
    secret_files: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)


# The image's user (nobody), who must read the receivers' secret files (mode 0400).
ALERTMANAGER_UID = "65534"


# Where Alertmanager answers: inside its container (the health check, the default external
# URL) and on the lab network (what Prometheus is told, with the path prefix).
LOCAL_URL = f"http://localhost:{alertmanager_yaml.PORT}{SUB_PATH}"
INTERNAL_URL = f"http://alertmanager:{alertmanager_yaml.PORT}{SUB_PATH}"
HEALTH_COMMAND = ("wget", "-qO-", f"{LOCAL_URL}/-/healthy")


def flags(args: AlertmanagerArgs) -> list[str]:
    """The command line; the image's entrypoint is the binary, so these replace its defaults."""
    return [
        f"--config.file={alertmanager_yaml.CONFIG_FILE}",
        f"--storage.path={DATA_DIR}",
        f"--web.external-url={args.public_url or LOCAL_URL}",
        f"--web.route-prefix={SUB_PATH}",
        # One instance: no gossip port, no peers to look for.
        "--cluster.listen-address=",
    ]


class Alertmanager(PartComponent):
    PART = "alertmanager"

    def container_arguments(self, args: AlertmanagerArgs) -> dict:
        return dict(
            data_dir=DATA_DIR,
            command=flags(args),
            uploads=[
                upload(alertmanager_yaml.CONFIG_FILE, args.config),
                *(
                    secret_upload(path, value, owner=ALERTMANAGER_UID)
                    for path, value in args.secret_files.items()
                ),
            ],
            ports=[args.placement.publish(alertmanager_yaml.PORT, args.port)],
            health=healthcheck(HEALTH_COMMAND),
            wait_timeout=60,
        )

    def outputs(self, name: str, args: AlertmanagerArgs) -> dict:
        self.url = args.placement.url(args.port, f"{SUB_PATH}/")
        self.internal_url = INTERNAL_URL
        return {"url": self.url}
