"""The `lab:` config namespace as one typed, validated object: parsed once, with one grammar.

The Pulumi program feeds it from `pulumi.Config` (`from_pulumi_config`), the front door and the
tests from `Pulumi.<stack>.yaml` (`from_stack_file`). Both end in `parse()`, so a key means the
same everywhere, and bad config fails before anything is deployed with one message that names
the key, the value and what is allowed. Pure: no Pulumi import.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from dashboards import prometheus_rules
from stack import exposure, user_services
from stack import settings_grammar as grammar
from stack import settings_tables as tables
from stack.configs import alertmanager_yaml, elasticsearch_tls

NAMESPACE = "lab"

# Upstream images, pinned: the part, then its reference (one visible place; docs/contract.md
# "Pinned upstream images"). `python` is the app's base image.
_PINNED = """
python         python:3.11-slim
traefik        traefik:v3.7.15
prometheus     prom/prometheus:v3.5.0
grafana        grafana/grafana:11.6.5
elasticsearch  docker.elastic.co/elasticsearch/elasticsearch:8.19.4
logstash       docker.elastic.co/logstash/logstash:8.19.4
kibana         docker.elastic.co/kibana/kibana:8.19.4
"""
IMAGES: Mapping[str, str] = MappingProxyType(
    {**dict(row.split() for row in _PINNED.strip().splitlines()), **tables.MONITORING_IMAGES}
)

# Host ports, published on `lab:bindAddress`.
PORTS: Mapping[str, int] = MappingProxyType(
    {
        "api": 8000,
        "traefik": 8080,
        "prometheus": 9090,
        "grafana": 3000,
        "elasticsearch": 9200,
        "kibana": 5601,
        "gelf": 12201,
        **tables.MONITORING_PORTS,
    }
)

# Container memory limits in MB (`function` is per replica), and the least each part is
# documented to need: Grafana's install guide asks for 512 MB; the JVM parts need their heap
# plus off-heap room, checked against the heap settings below.
MEMORY_MB: Mapping[str, int] = MappingProxyType(
    {
        "function": 128,
        # Peak RSS 211 MB under 2,000 keep-alive connections (stack/traefik.py, issue 14).
        "traefik": 256,
        "prometheus": 512,
        "grafana": 512,
        "elasticsearch": 2048,
        "logstash": 1024,
        "kibana": 1024,
        **tables.MONITORING_MEMORY_MB,
    }
)
MINIMUM_MEMORY_MB = tables.MINIMUM_MEMORY_MB

# Which parts each switch turns on; `metrics` carries Prometheus, `grafana` needs `metrics`.
SWITCHES = ("metrics", "grafana", "logs", *tables.MONITORING_SWITCHES)

# Keys whose values are Pulumi secrets: the program reads them with require_secret, never
# through this object, and the front door only checks that they are present.
SECRET_KEYS = tuple(tables.SECRETS)
ENGINES = tables.ENGINES

# Every alert's `for:` as the rules declare it (`lab:alertFor` overrides some).
ALERT_FOR: Mapping[str, str] = MappingProxyType(
    {alert.name: alert.duration for alert in prometheus_rules.alerts()}
)

# Container ports (fixed by the images, not config).
TRAEFIK_WEB_PORT = 8000
TRAEFIK_API_PORT = 8080
PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000
ELASTICSEARCH_PORT = 9200
LOGSTASH_API_PORT = 9600
LOGSTASH_GELF_PORT = 12201
# Where Traefik's API port serves the UIs; Grafana and Kibana are told to serve there too.
GRAFANA_SUB_PATH = "/grafana"
KIBANA_SUB_PATH = "/kibana"
UI_PATHS = (GRAFANA_SUB_PATH, KIBANA_SUB_PATH)  # routed by Traefik, so no user service there
KIBANA_PORT = 5601

_WILDCARD_ADDRESSES = ("0.0.0.0", "::")


SettingsError = grammar.SettingsError  # defined with the grammar: list readers raise it too


@dataclass(frozen=True)
class LabSettings:
    """Every `lab:` setting, typed, with the pinned defaults; build it with `parse()`."""

    replicas: int = 2
    metrics: bool = True
    grafana: bool = True
    logs: bool = True
    bind_address: str = "127.0.0.1"
    images: Mapping[str, str] = field(default_factory=lambda: dict(IMAGES))
    ports: Mapping[str, int] = field(default_factory=lambda: dict(PORTS))
    memory_mb: Mapping[str, int] = field(default_factory=lambda: dict(MEMORY_MB))
    prometheus_retention: str = "7d"
    prometheus_retention_size: str = "2GB"  # whichever of time and size is reached first
    log_retention: str = "7d"  # Elasticsearch deletes log indices older than this (ILM)
    # Alert name -> its `for:` (dashboards/prometheus_rules.py); the fault tests shorten them.
    alert_for: Mapping[str, str] = field(default_factory=lambda: dict(ALERT_FOR))
    # Alertmanager's grouping and repeat timing (alertmanager_yaml.TIMING); tests shorten it.
    alert_timing: Mapping[str, str] = field(default_factory=lambda: dict(alertmanager_yaml.TIMING))
    elasticsearch_heap: str = "1g"
    logstash_heap: str = "512m"
    slow_call_ms: int = 5
    # `docker`: containers on one host; `swarm`: services on a swarm manager (stack/swarm.py).
    engine: str = "docker"
    swarm_state_host: str | None = None  # the state node's address (lab:swarmStateHost)
    # IPsec (ESP) on the Swarm overlays; a kernel without ESP drops it (docs/security.md).
    swarm_encryption: bool = True
    # Port keys accepted open without a login where other machines reach them (exposure.py).
    allow_open_ports: tuple[str, ...] = ()
    lifecycle: bool = False  # Prometheus's POST /-/reload and /-/quit (--web.enable-lifecycle)
    publish_monitoring_ports: bool = False  # Prometheus', Alertmanager's ports (else Traefik)
    # Alertmanager, the blackbox probes, node-exporter: each needs `metrics` (settings_tables).
    alerting: bool = True
    probes: bool = True
    host: bool = True
    services: tuple[user_services.UserService, ...] = ()  # lab:services
    alert_receivers: tuple = ()  # lab:alertReceivers (stack/alert_receivers.py)

    @property
    def grafana_on(self) -> bool:
        """Grafana reads Prometheus, so it runs only with metrics on."""
        return self.metrics and self.grafana

    @property
    def client_host(self) -> str:
        """The host a client on this machine dials: a wildcard bind address is not a host."""
        if self.bind_address in _WILDCARD_ADDRESSES:
            return "127.0.0.1"
        if ":" in self.bind_address:
            return f"[{self.bind_address}]"
        return self.bind_address

    def url(self, port_key: str, path: str = "") -> str:
        """On Swarm the state node publishes its parts' ports (host mode), not this machine."""
        on_state_node = self.engine == "swarm" and port_key in tables.STATE_NODE_PORTS
        host = self.swarm_state_host if on_state_node and self.swarm_state_host else None
        tls = port_key == "elasticsearch" and elasticsearch_tls.enabled(self)  # HTTPS on Swarm
        host = f"{'https' if tls else 'http'}://{host or self.client_host}"
        return f"{host}:{self.ports[port_key]}{path}"

    @property
    def api_url(self) -> str:
        return self.url("api")

    def urls(self) -> dict[str, str | None]:
        """What each part answers on from this machine (None for a part switched off)."""
        own = self.publish_monitoring_ports  # else Prometheus, Alertmanager through Traefik
        alerts = f"{tables.ALERTMANAGER_SUB_PATH}/"
        return {
            "api_url": self.api_url,
            "traefik_url": self.url("traefik", "/dashboard/"),
            "prometheus_url": (self.url("prometheus") if own else self.url("api", "/prometheus/"))
            if self.metrics
            else None,
            "alertmanager_url": self.url("alertmanager" if own else "api", alerts)
            if self.metrics and self.alerting
            else None,
            "grafana_url": self.url("api", f"{GRAFANA_SUB_PATH}/") if self.grafana_on else None,
            "kibana_url": self.url("api", KIBANA_SUB_PATH) if self.logs else None,
        }

    def parts(self) -> tuple[str, ...]:
        """The container parts this config declares (keys of `memory_mb`)."""
        parts = ["function", "traefik"]
        if self.metrics:
            parts.append("prometheus")
        if self.grafana_on:
            parts.append("grafana")
        if self.logs:
            parts += ["elasticsearch", "logstash", "kibana"]
        if self.metrics:
            parts += [p for key, p in tables.MONITORING_SWITCHES.items() if getattr(self, key)]
        if self.metrics and self.logs:
            parts += ["elasticsearch_exporter", "logstash_exporter"]
        return tuple(parts)

    def memory_needed_mb(self, functions: int) -> int:
        """The sum of the memory limits of every container this config starts."""
        count = {"function": functions * self.replicas}
        total = sum(count.get(part, 1) * self.memory_mb[part] for part in self.parts())
        return total + sum(s.replicas * s.memory_mb for s in self.services)


# Object-valued keys: key -> (attribute, the pinned defaults its entries override).
_MAPPINGS = {
    "images": ("images", IMAGES),
    "ports": ("ports", PORTS),
    "memoryMb": ("memory_mb", MEMORY_MB),
    "alertFor": ("alert_for", ALERT_FOR),
    "alertTiming": ("alert_timing", alertmanager_yaml.TIMING),
}
KEYS = (*tables.SCALARS, *_MAPPINGS, user_services.KEY, *SECRET_KEYS, *tables.SECRET_OBJECTS)


def _unknown_key(key: str, known: tuple[str, ...]) -> SettingsError:
    near = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {NAMESPACE}:{near[0]}?" if near else ""
    return SettingsError(f"unknown key {NAMESPACE}:{key}{hint} (known: {', '.join(known)})")


def _bad(key: str, value: Any, allowed: str) -> SettingsError:
    return SettingsError(f"{NAMESPACE}:{key} = {value!r} is invalid: expected {allowed}")


def parse(raw: Mapping[str, Any]) -> LabSettings:
    """Validate the keys of the `lab:` namespace (without the prefix) into LabSettings."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECRET_KEYS or key in tables.SECRET_OBJECTS:
            continue
        if key in tables.SCALARS:
            attribute, convert = tables.SCALARS[key]
            try:
                values[attribute] = convert(value)
            except grammar.Invalid as invalid:
                raise _bad(key, value, invalid.allowed) from None
        elif key == user_services.KEY:
            values["services"] = user_services.parse(value, (*PORTS, *MEMORY_MB), UI_PATHS)
        elif key in _MAPPINGS:
            attribute, defaults = _MAPPINGS[key]
            values[attribute] = _parse_mapping(key, value, defaults)
        else:
            raise _unknown_key(key, KEYS)
    settings = LabSettings(**values)
    _check_ports(settings.ports)
    if problem := tables.memory_problem(settings):
        raise SettingsError(problem)
    _check_engine(settings)
    # Rules across entries, which their renderers know: ValueError says which.
    for key, check, value in (
        ("alertFor", lambda v: prometheus_rules.alerts(durations=v), settings.alert_for),
        ("alertTiming", alertmanager_yaml.check_timing, settings.alert_timing),
    ):
        try:
            check(value)
        except ValueError as error:
            raise SettingsError(f"{NAMESPACE}:{key} is invalid: {error}") from None
    if refused := exposure.refusal(settings):
        raise SettingsError(refused)
    return settings


def _check_engine(settings: LabSettings) -> None:
    """On Swarm, the tasks' gelf driver sends to the state node's address (stack/swarm_state.py)."""
    if settings.engine == "swarm" and settings.logs and not settings.swarm_state_host:
        raise SettingsError(
            f"{NAMESPACE}:engine = 'swarm' with {NAMESPACE}:logs needs {NAMESPACE}:swarmStateHost:"
            " the state node's address as every node reaches it (where Logstash takes GELF)"
        )


def _parse_mapping(key: str, value: Any, defaults: Mapping[str, Any]) -> dict:
    """An object-valued key: the pinned defaults, overridden entry by entry."""
    try:
        entries = grammar.mapping(value)
    except grammar.Invalid as invalid:
        raise _bad(key, value, invalid.allowed) from None
    merged = dict(defaults)
    for entry, entry_value in entries.items():
        dotted = f"{key}.{entry}"
        if entry not in defaults:
            raise _unknown_key(dotted, tuple(f"{key}.{name}" for name in defaults))
        try:
            if key == "images":
                merged[entry] = grammar.text(entry_value, re.compile(r"\S+"), "an image reference")
            elif key in ("alertFor", "alertTiming"):
                merged[entry] = grammar.alert_duration(entry_value)
            elif key == "ports":
                merged[entry] = grammar.integer(entry_value, 1, 65535)
            else:
                merged[entry] = grammar.integer(entry_value, 1, 1_048_576)
        except grammar.Invalid as invalid:
            raise _bad(dotted, entry_value, invalid.allowed) from None
    return merged


def _check_ports(ports: Mapping[str, int]) -> None:
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port in seen:
            raise SettingsError(
                f"{NAMESPACE}:ports.{name} = {port} is invalid: "
                f"port {port} is already taken by {NAMESPACE}:ports.{seen[port]}"
            )
        seen[port] = name


def strip_namespace(config: Mapping[str, Any]) -> dict[str, Any]:
    """`{"lab:replicas": 2, "aws:region": ...}` -> `{"replicas": 2}`."""
    prefix = NAMESPACE + ":"
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}


def stack_file(root: Path, stack: str) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def read_stack_file(path: Path) -> dict[str, Any]:
    """The `lab:` keys of a Pulumi.<stack>.yaml (secret values stay encrypted)."""
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise SettingsError(f"{path.name} is not valid YAML: {error}") from None
    config = document.get("config") or {}
    if not isinstance(config, Mapping):
        raise SettingsError(f"{path.name}: `config` must be a mapping")
    return strip_namespace(config)


def from_stack_file(path: Path) -> LabSettings:
    """The settings a stack file declares; a missing file means every default."""
    if not path.exists():
        return LabSettings()
    return parse(read_stack_file(path))


def from_pulumi_config(config: Mapping[str, Any]) -> LabSettings:
    """The settings of the config the Pulumi engine passes the program (every namespace), read
    with the same grammar and messages as a stack file."""
    return parse(
        {key: grammar.from_engine(value) for key, value in strip_namespace(config).items()}
    )
