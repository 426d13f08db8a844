"""Grafana: the Prometheus datasource and the lab's dashboards, all provisioned from uploads.

What a person makes in the UI (dashboards, annotations, preferences) stays: Grafana's database
lives on the retained data volume `{project}-{stack}-grafana-data` at DATA_DIR, like the other
parts' data (`make down` deletes it unless KEEP_DATA=1). The provisioned dashboards stay owned
by the code: they are read from files at every start, read-only in the UI.

The admin password still converges: Grafana reads GF_SECURITY_ADMIN_PASSWORD__FILE only when it
creates the admin user in a new database (the bug the popular compose stacks suffer from), so
the container starts with START_SCRIPT, which first sets the admin's password in the existing
database from the same file with `grafana cli admin reset-admin-password --password-from-stdin`
(grafana/grafana pkg/cmd/grafana-cli/commands/reset_password_command.go: one line read from
stdin, user id 1), then execs the image's own entrypoint. A changed secret is a changed upload,
which replaces the container, so the next start applies it. The password never sits in the
environment or on a command line: the image's run.sh reads the __FILE variable as the container
user (uid 472), so the file is 0400 owned by that uid (docs/product-rules.md G5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi

from stack.configs import grafana_provisioning
from stack.containers import (
    PartComponent,
    PublishingArgs,
    env_list,
    healthcheck,
    secret_upload,
    upload,
)
from stack.settings import GRAFANA_PORT, GRAFANA_SUB_PATH

# The image's user (Grafana's Dockerfile: GF_UID 472, GF_GID 0).
GRAFANA_UID = "472"
ADMIN_PASSWORD_FILE = "/run/secrets/grafana-admin-password"
# The image's GF_PATHS_DATA (its Dockerfile): the database, plugins and sessions.
DATA_DIR = "/var/lib/grafana"
# The image's ENTRYPOINT (Grafana's Dockerfile), which START_SCRIPT ends by running.
RUN_SH = "/run.sh"


def start_script(password_file: str = ADMIN_PASSWORD_FILE, run_sh: str = RUN_SH) -> str:
    """Set the admin's password in an existing database, then start Grafana as the image does.
    In a new database there is no admin yet (the CLI fails, harmlessly): Grafana creates it from
    the __FILE variable. The CLI reads the same settings (GF_PATHS_* from the environment)."""
    return (
        'grafana cli --homepath "$GF_PATHS_HOME" --config "$GF_PATHS_CONFIG" '
        f"admin reset-admin-password --password-from-stdin < {password_file} >/dev/null 2>&1 "
        '&& echo "lab: admin password set from the secret file" '
        '|| echo "lab: no admin user yet: Grafana creates it from the secret file"; '
        f'exec {run_sh} "$@"'
    )


START_COMMAND = ("sh", "-c", start_script(), "grafana-start")
# secret_key encrypts the secrets Grafana stores (datasource passwords); unset, it is the
# public default of conf/defaults.ini (`secret_key = SW2YcwTIb9zpOOhoPsMm`, grafana v11.6.5).
SECRET_KEY_FILE = "/run/secrets/grafana-secret-key"
# The datasources' password (web_config.MONITORING_USER's), read by provisioning ($__file{}).
MONITORING_PASSWORD_FILE = "/run/secrets/grafana-monitoring-password"


@dataclass(kw_only=True)
class GrafanaArgs(PublishingArgs):
    admin_password: pulumi.Input[str]
    secret_key: pulumi.Input[str]  # lab:grafanaSecretKey
    # Prometheus' and Alertmanager's login for the datasources (None: they have none).
    monitoring_password: pulumi.Input[str] | None = None
    dashboards: dict[str, dict]  # file stem (the dashboard uid) -> dashboard JSON model
    public_url: str  # where browsers reach it through Traefik, e.g. http://127.0.0.1:8000/grafana/
    # Alertmanager on the lab network (None: no Alertmanager datasource).
    alertmanager_url: str | None = None
    prometheus_url: str = grafana_provisioning.PROMETHEUS_URL
    # Kibana as browsers reach it (None: no logs part, exemplars link nowhere).
    kibana_url: str | None = None


HEALTH_COMMAND = ("wget", "-qO-", f"http://localhost:{GRAFANA_PORT}{GRAFANA_SUB_PATH}/api/health")
HEALTH_TIMING = {"start_period": "30s"}


def provisioning_files(args: GrafanaArgs) -> dict[str, str]:
    """The provisioned datasources, dashboard provider and dashboards, by path."""
    return {
        grafana_provisioning.DATASOURCES_FILE: grafana_provisioning.datasources(
            args.prometheus_url,
            args.alertmanager_url,
            args.kibana_url,
            MONITORING_PASSWORD_FILE if args.monitoring_password is not None else None,
        ),
        grafana_provisioning.PROVIDERS_FILE: grafana_provisioning.dashboard_providers(),
        **{
            f"{grafana_provisioning.DASHBOARD_DIR}/{stem}.json": json.dumps(
                model, indent=2, sort_keys=True
            )
            for stem, model in sorted(args.dashboards.items())
        },
    }


def secret_files(args: GrafanaArgs) -> dict[str, pulumi.Input[str]]:
    """The admin password and the secret key, each a 0400 file for Grafana's user; run.sh
    reads every GF_*__FILE as that user (docs/product-rules.md G5)."""
    files = {ADMIN_PASSWORD_FILE: args.admin_password, SECRET_KEY_FILE: args.secret_key}
    if args.monitoring_password is not None:
        files[MONITORING_PASSWORD_FILE] = args.monitoring_password
    return files


def environment(args: GrafanaArgs) -> dict[str, str]:
    """Grafana's settings: the admin login from the password file, no anonymous access, no
    sign-up, served under its sub-path, nothing phoned home."""
    return {
        "GF_SECURITY_ADMIN_USER": "admin",
        "GF_SECURITY_ADMIN_PASSWORD__FILE": ADMIN_PASSWORD_FILE,
        "GF_SECURITY_SECRET_KEY__FILE": SECRET_KEY_FILE,
        "GF_AUTH_ANONYMOUS_ENABLED": "false",
        "GF_USERS_ALLOW_SIGN_UP": "false",
        "GF_AUTH_DISABLE_LOGIN_FORM": "false",
        "GF_SERVER_ROOT_URL": args.public_url,
        "GF_SERVER_SERVE_FROM_SUB_PATH": "true",
        "GF_ANALYTICS_REPORTING_ENABLED": "false",
        "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
        "GF_NEWS_NEWS_FEED_ENABLED": "false",
    }


class Grafana(PartComponent):
    PART = "grafana"

    def container_arguments(self, args: GrafanaArgs) -> dict:
        uploads = [upload(path, text) for path, text in provisioning_files(args).items()]
        for path, value in secret_files(args).items():
            uploads.append(secret_upload(path, value, owner=GRAFANA_UID))
        return dict(
            entrypoints=list(START_COMMAND),
            data_dir=DATA_DIR,
            envs=env_list(environment(args)),
            uploads=uploads,
            ports=[args.placement.publish(GRAFANA_PORT, args.port)],
            health=healthcheck(HEALTH_COMMAND, **HEALTH_TIMING),
            # A new password applies at the next start (see the module docstring).
            replace_on=["uploads"],
        )

    def outputs(self, name: str, args: GrafanaArgs) -> dict:
        self.url = args.public_url
        return {"url": self.url, "direct_url": self.direct_url(args)}

    @staticmethod
    def direct_url(args: GrafanaArgs) -> str:
        return args.placement.url(args.port, f"{GRAFANA_SUB_PATH}/")
