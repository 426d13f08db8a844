"""Which published ports answer without a login, and why the lab refuses to publish them on a
reachable address: with `lab:bindAddress` set to anything but loopback, every one of them is
open to the network (issue 11); on Swarm every published port is, whatever the bind address
(issue 22): a port published in host mode has no host address, so Docker binds it on every
interface of the node. Each such port is refused unless `lab:allowOpenPorts` names it. Pure:
reads a LabSettings, imports nothing of Pulumi.
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


# On Swarm, every node's Docker daemon sends its tasks' logs to the GELF input on the state
# node, so that port must answer the nodes: it is published without being named, and
# docs/security.md gives the firewall rule that narrows it to the swarm's nodes.
SWARM_NODE_PORTS = ("gelf",)


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


def reachable(settings) -> bool:
    """Whether the published ports answer other machines: always on Swarm (host mode binds
    every interface), on one host when bound to anything but loopback."""
    return settings.engine == "swarm" or not is_loopback(settings.bind_address)


def open_port_keys(settings) -> list[str]:
    """The port keys of running parts that answer without a login, in the order of
    PUBLISHED."""
    parts = settings.parts()
    return [key for key, entry in PUBLISHED.items() if entry.part in parts and entry.login is None]


def open_ports(settings) -> list[str]:
    """`<key> <port>/<protocol>: <what answers>` for each published port of a running part
    that answers without a login, in the order of PUBLISHED."""
    return [_describe(settings, key) for key in open_port_keys(settings)]


def _describe(settings, key: str) -> str:
    entry = PUBLISHED[key]
    return f"{key} {settings.ports[key]}/{entry.protocol}: {entry.serves}"


def refused_port_keys(settings) -> list[str]:
    """The login-less port keys this config would open to the network without naming them in
    `lab:allowOpenPorts` (on Swarm, the GELF input excepted: SWARM_NODE_PORTS)."""
    if not reachable(settings):
        return []
    excepted = SWARM_NODE_PORTS if settings.engine == "swarm" else ()
    return [
        key
        for key in open_port_keys(settings)
        if key not in settings.allow_open_ports and key not in excepted
    ]


def refusal(settings) -> str | None:
    """Why this config must not be deployed, or None: ports without a login where other
    machines reach them, each refused unless `lab:allowOpenPorts` names it."""
    refused = refused_port_keys(settings)
    if not refused:
        return None
    ports = [_describe(settings, key) for key in refused]
    guarded = [f"/{ui}" for ui in GUARDED_ROUTES if ui in settings.parts()]
    through_traefik = (
        f" ({' and '.join(guarded)} on the api port {settings.ports['api']} ask for the admin"
        " login)"
        if guarded
        else ""
    )
    allow = f"lab:allowOpenPorts: [{', '.join(refused)}]"
    if settings.engine == "swarm":
        return (
            "lab:engine = 'swarm' publishes every port in host mode on every interface of its"
            " node (no host address), so these answer without a login to every machine that"
            f" reaches the node: {'; '.join(ports)}. Switch those parts off{through_traefik},"
            f" or set {allow} to accept it"
        )
    return (
        f"lab:bindAddress = {settings.bind_address!r} publishes ports that answer without a login"
        f" to every machine that reaches it: {'; '.join(ports)}."
        f" Bind to 127.0.0.1 (the default){through_traefik}, switch those parts off, or set"
        f" {allow} to accept it"
    )
