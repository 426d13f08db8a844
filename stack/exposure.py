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


# Port key (lab:ports.<key>) -> what answers there. Only Grafana asks for a login today:
# Elasticsearch security is still off, so Kibana has no login either, and Traefik forwards
# /kibana and the functions on the api port without one.
PUBLISHED = {
    "api": Published("traefik", "the function API, /grafana and /kibana through Traefik"),
    "traefik": Published("traefik", "Traefik's API and dashboard"),
    "prometheus": Published("prometheus", "Prometheus's UI and API"),
    "grafana": Published("grafana", "Grafana", login="Grafana's admin login"),
    "elasticsearch": Published("elasticsearch", "Elasticsearch's API (security off)"),
    "kibana": Published("kibana", "Kibana (no login while Elasticsearch security is off)"),
    "gelf": Published("logstash", "Logstash's GELF input (anyone can write log lines)", "udp"),
    "alertmanager": Published("alertmanager", "Alertmanager's UI and API"),
}


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
    return (
        f"lab:bindAddress = {settings.bind_address!r} publishes ports that answer without a login"
        f" to every machine that reaches it: {'; '.join(ports)}."
        " Bind to 127.0.0.1 (the default), switch those parts off, or set"
        " lab:allowOpenPorts: true to accept it"
    )
