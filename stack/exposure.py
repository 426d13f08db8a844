"""Which published ports answer without a login, and why the lab refuses to publish them on a
reachable address: with `lab:bindAddress` set to anything but loopback, every one of them is
open to the network (issue 11). Pure: reads a LabSettings, imports nothing of Pulumi.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple


class Published(NamedTuple):
    part: str  # the part whose container publishes the port (a key of LabSettings.parts())
    serves: str
    protocol: str = "tcp"
    login: str | None = None  # what asks for credentials on this port, None if nothing does


# Port key (lab:ports.<key>) -> what answers there. Traefik's dashboard/API asks for Traefik's
# basic auth (lab:traefikAdminPassword); Prometheus and Alertmanager for their own (their web
# config, issue 22: the same admin login, or the lab's monitoring user), through the api port's
# /prometheus and /alertmanager or on their direct ports (published only with
# lab:publishMonitoringPorts); Grafana, Elasticsearch and Kibana their own logins
# (Elasticsearch security on). The function API is public by design: pure, bounded functions
# behind Traefik's limits. Anyone who reaches the GELF input can write log lines.
PUBLISHED = {
    "api": Published(
        "traefik",
        "the function API (public), /grafana, /kibana, /prometheus, /alertmanager via Traefik",
        login="the UIs' own logins (Prometheus and Alertmanager: their web config's)",
    ),
    "traefik": Published(
        "traefik",
        "Traefik's API and dashboard (/ping and /metrics stay open)",
        login="Traefik basic auth (user admin, lab:traefikAdminPassword)",
    ),
    "prometheus": Published(
        "prometheus", "Prometheus's UI and API", login="its web config (user admin)"
    ),
    "grafana": Published("grafana", "Grafana", login="Grafana's admin login"),
    "elasticsearch": Published(
        "elasticsearch", "Elasticsearch's API", login="Elasticsearch security (users per job)"
    ),
    "kibana": Published("kibana", "Kibana", login="Kibana's login (user lab, via Elasticsearch)"),
    "gelf": Published("logstash", "Logstash's GELF input (anyone can write log lines)"),
    "alertmanager": Published(
        "alertmanager", "Alertmanager's UI and API", login="its web config (user admin)"
    ),
}


# Parts Traefik routes on the api port that take the admin login themselves
# (stack/configs/traefik_yaml.MONITORING_ROUTES).
GUARDED_ROUTES = ("prometheus", "alertmanager")


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


def open_ports(settings) -> list[str]:
    """`<key> <port>/<protocol>: <what answers>` for each published port of a running part
    that answers without a login, in the order of PUBLISHED."""
    parts = settings.parts()
    return [
        f"{key} {settings.ports[key]}/{entry.protocol}: {entry.serves}"
        for key, entry in PUBLISHED.items()
        if entry.part in parts and entry.login is None
    ]


def refusal(settings) -> str | None:
    """Why this config must not be deployed, or None: ports without a login on an address
    other machines reach, unless `lab:allowOpenPorts` says so explicitly."""
    if is_loopback(settings.bind_address) or settings.allow_open_ports:
        return None
    ports = open_ports(settings)
    if not ports:
        return None
    guarded = [f"/{ui}" for ui in GUARDED_ROUTES if ui in settings.parts()]
    through_traefik = (
        f" ({' and '.join(guarded)} on the api port {settings.ports['api']} ask for the admin"
        " login)"
        if guarded
        else ""
    )
    return (
        f"lab:bindAddress = {settings.bind_address!r} publishes ports that answer without a login"
        f" to every machine that reaches it: {'; '.join(ports)}."
        f" Bind to 127.0.0.1 (the default){through_traefik}, switch those parts off, or set"
        " lab:allowOpenPorts: true to accept it"
    )
