"""Alertmanager: receives Prometheus' alerts, groups and inhibits them, sends them on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from stack.configs import alertmanager_yaml, web_config
from stack.containers import PartComponent, PublishingArgs, healthcheck, secret_upload, upload
from stack.prometheus import NOBODY, guarded, health_command, login_files
from stack.settings_tables import ALERTMANAGER_SUB_PATH as SUB_PATH

DATA_DIR = "/alertmanager"


@dataclass(kw_only=True)
class AlertmanagerArgs(PublishingArgs):
    config: str  # alertmanager_yaml.render(...)
    public_url: str | None = None  # the UI as browsers reach it, e.g. through Traefik
    # lab:alertReceivers' secrets: file path -> value, read through Alertmanager's *_file fields.
    receiver_files: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # Its own login, as Prometheus' (stack/prometheus.py login_files); all None: none. The
    # direct port only with lab:publishMonitoringPorts.
    admin_password: pulumi.Input[str] | None = None
    monitoring_password: pulumi.Input[str] | None = None
    hash_salt: pulumi.Input[str] | None = None
    publish: bool = False
    # The password of the webhook's login to Logstash (alertmanager_yaml.WEBHOOK_PASSWORD_FILE).
    webhook_password: pulumi.Input[str] | None = None


# The image's user (nobody), who must read the receivers' secret files (mode 0400).
ALERTMANAGER_UID = NOBODY


# Where Alertmanager answers: inside its container (the health check, the default external
# URL) and on the lab network (what Prometheus is told, with the path prefix).
LOCAL_URL = f"http://localhost:{alertmanager_yaml.PORT}{SUB_PATH}"
INTERNAL_URL = f"http://alertmanager:{alertmanager_yaml.PORT}{SUB_PATH}"
HEALTH_URL = f"{LOCAL_URL}/-/healthy"
HEALTH_COMMAND = ("wget", "-qO-", HEALTH_URL)  # without a login


def flags(args: AlertmanagerArgs) -> list[str]:
    """The command line; the image's entrypoint is the binary, so these replace its defaults."""
    return [
        f"--config.file={alertmanager_yaml.CONFIG_FILE}",
        f"--storage.path={DATA_DIR}",
        f"--web.external-url={args.public_url or LOCAL_URL}",
        f"--web.route-prefix={SUB_PATH}",
        # One instance: no gossip port, no peers to look for.
        "--cluster.listen-address=",
        *([f"--web.config.file={web_config.WEB_CONFIG_FILE}"] if guarded(args) else []),
    ]


def secret_files(args: AlertmanagerArgs) -> dict[str, pulumi.Input[str]]:
    """Its login files (web config) and the webhook's password, by path."""
    files: dict[str, pulumi.Input[str]] = dict(login_files(args))
    if args.webhook_password is not None:
        files[alertmanager_yaml.WEBHOOK_PASSWORD_FILE] = args.webhook_password
    return files


class Alertmanager(PartComponent):
    PART = "alertmanager"

    def container_arguments(self, args: AlertmanagerArgs) -> dict:
        return dict(
            data_dir=DATA_DIR,
            command=flags(args),
            uploads=[
                upload(alertmanager_yaml.CONFIG_FILE, args.config),
                *(
                    secret_upload(path, text, owner=NOBODY)
                    for path, text in {**args.receiver_files, **secret_files(args)}.items()
                ),
            ],
            ports=[args.placement.publish(alertmanager_yaml.PORT, args.port)]
            if args.publish
            else [],
            health=healthcheck(health_command(args, HEALTH_URL)),
            wait_timeout=60,
        )

    def outputs(self, name: str, args: AlertmanagerArgs) -> dict:
        self.url = (
            args.placement.url(args.port, f"{SUB_PATH}/") if args.publish else args.public_url
        )
        self.internal_url = INTERNAL_URL
        return {"url": self.url}
