"""The login of Prometheus' and Alertmanager's own HTTP servers (`--web.config.file`, issue 22):
bcrypt basic-auth users, and the files their clients read the lab's credentials from.

Prometheus (since 2.24) and Alertmanager (since 0.22) serve every path, the health checks
included, behind `basic_auth_users` of the web config (prometheus/exporter-toolkit
web/tls_config.go `Config.Users`, checked with bcrypt's CompareHashAndPassword, results cached).
Two users: ADMIN_USER, the person, with lab:traefikAdminPassword (Traefik passes the person's
own Authorization header through to them: one login, checked where the API is); and
MONITORING_USER, the lab's own clients (Prometheus scraping itself and sending alerts, Grafana's
datasources, the blackbox probe, the health checks), with lab:monitoringApiPassword.
Pure: no Pulumi.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import yaml

from stack.configs import htpasswd

ADMIN_USER = "admin"  # the same name as Traefik's (traefik_yaml.ADMIN_USER)
MONITORING_USER = "lab_monitoring"
MONITORING_SECRET = "monitoringApiPassword"
# In Prometheus' and Alertmanager's containers (uid 65534), each 0400.
WEB_CONFIG_FILE = "/run/secrets/web-config.yml"
PASSWORD_FILE = "/run/secrets/monitoring-password"  # basic_auth password_file of the clients
# The health checks' `Authorization: Basic ...` value, so no command line holds a password.
AUTH_HEADER_FILE = "/run/secrets/monitoring-authorization"


def render(*, admin_password: str, monitoring_password: str, lab_salt: str) -> str:
    """The web config: the two users with their bcrypt hashes (salted from the lab's salt
    secret, so the same passwords render the same file)."""
    users = {
        ADMIN_USER: htpasswd.bcrypt_hash(admin_password, lab_salt, f"web {ADMIN_USER}"),
        MONITORING_USER: htpasswd.bcrypt_hash(
            monitoring_password, lab_salt, f"web {MONITORING_USER}"
        ),
    }
    return yaml.safe_dump({"basic_auth_users": users}, sort_keys=False)


def authorization(password: str, user: str = MONITORING_USER) -> str:
    """`Basic <base64(user:password)>`, an Authorization header's value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def basic_auth() -> dict[str, str]:
    """A Prometheus client's `basic_auth` block (scrape config, alertmanagers, blackbox)."""
    return {"username": MONITORING_USER, "password_file": PASSWORD_FILE}


def health_command(url: str) -> Sequence[str]:
    """The container's health check: GET `url` signed in as the monitoring user, the header
    read from AUTH_HEADER_FILE by the shell (wget's --header: GNU and busybox alike)."""
    return (
        "sh",
        "-c",
        f'wget -qO- --header "Authorization: $(cat {AUTH_HEADER_FILE})" {url} >/dev/null',
    )
