"""`lab:services`: the person's own HTTP services, run by the lab beside the functions.

Each entry is read here into a UserService, with one message per broken rule that names
`lab:services`, the entry and the rule, so a wrong entry is refused before anything is
deployed. Pure: no Pulumi import. docs/own-service.md tells how to use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from app.contract import FUNCTIONS
from stack import exposure
from stack import settings_grammar as grammar
from stack.configs import blackbox_yaml

KEY = "services"
# A DNS label (RFC 1123), short enough that `<name>-<replica>` (the replicas' network aliases)
# is one too.
NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,58}[a-z0-9])?")
# One or more path segments, no trailing slash: `/shop`, `/team/shop`.
PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+")
METRICS_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
IMAGE = re.compile(r"\S+")
MAX_REPLICAS = 20
MIN_MEMORY_MB = 16
# A user service's memory limit when its entry gives none (a function replica's, MEMORY_MB).
DEFAULT_MEMORY_MB = 128
FIELDS = (
    "name",
    "image",
    "port",
    "path",
    "metricsPath",
    "env",
    "replicas",
    "memoryMb",
    "health",
    "readOnly",
)
REQUIRED = ("name", "image", "port")


@dataclass(frozen=True)
class UserService:
    """One entry of `lab:services`, checked, with its defaults filled in."""

    name: str
    image: str
    port: int
    path: str
    metrics_path: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    replicas: int = 1
    memory_mb: int = DEFAULT_MEMORY_MB
    # The HTTP path (on the service) that answers 200 when it is healthy: Traefik's health
    # check and the blackbox probe ask it; the probe asks `/` without it.
    health: str | None = None
    # The function replicas' hardening (stack/hardening.py row `service`) unless the entry
    # says `readOnly: false` (row `service_writable`).
    read_only: bool = True

    @property
    def row(self) -> str:
        """Its row of stack/hardening.py."""
        return "service" if self.read_only else "service_writable"

    def aliases(self) -> list[str]:
        return [f"{self.name}-{i}" for i in range(1, self.replicas + 1)]

    @property
    def probe_path(self) -> str:
        """What the blackbox exporter calls through Traefik (the path prefix is stripped)."""
        return self.path + (self.health or "/")


class Refused(grammar.SettingsError):
    """A wrong `lab:services`: the message names the key, the entry and the rule."""


def _refuse(index: int, entry: Any, rule: str) -> Refused:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    which = f"lab:{KEY}[{index}]" + (f" ({name!r})" if isinstance(name, str) else "")
    return Refused(f"{which} is refused: {rule}")


def overlaps(path: str, reserved: str) -> bool:
    """Whether a service under `path` (Traefik: the path itself and everything below it) would
    take requests meant for a route matching the prefix `reserved`, or the other way round."""
    mine = path + "/"
    return mine.startswith(reserved) or reserved.startswith(mine) or path == reserved.rstrip("/")


def _entry(index: int, entry: Any) -> UserService:
    if not isinstance(entry, Mapping):
        raise _refuse(
            index, entry, "an entry is a mapping such as {name: shop, image: ..., port: 8080}"
        )
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise _refuse(index, entry, f"unknown field {unknown[0]!r} (known: {', '.join(FIELDS)})")
    absent = [key for key in REQUIRED if key not in entry]
    if absent:
        raise _refuse(index, entry, f"field {absent[0]!r} is required")
    checks = {
        "name": lambda v: grammar.text(
            v, NAME, "a DNS label: lower-case letters, digits and '-', at most 60 characters"
        ),
        "image": lambda v: grammar.text(v, IMAGE, "an image reference"),
        "port": lambda v: grammar.integer(v, 1, 65535),
        "path": lambda v: grammar.text(v, PATH, "a path such as /shop (no trailing slash)"),
        "metricsPath": lambda v: grammar.text(v, METRICS_PATH, "a path such as /metrics"),
        "health": lambda v: grammar.text(v, METRICS_PATH, "a path such as /health"),
        "replicas": lambda v: grammar.integer(v, 1, MAX_REPLICAS),
        "memoryMb": lambda v: grammar.integer(v, MIN_MEMORY_MB, 1_048_576),
        "readOnly": grammar.boolean,
        "env": _env,
    }
    values: dict[str, Any] = {}
    for key, value in entry.items():
        try:
            values[key] = checks[key](value)
        except grammar.Invalid as invalid:
            raise _refuse(index, entry, f"{key} = {value!r}: expected {invalid.allowed}") from None
    return UserService(
        name=values["name"],
        image=values["image"],
        port=values["port"],
        path=values.get("path", f"/{values['name']}"),
        metrics_path=values.get("metricsPath"),
        env=MappingProxyType(values.get("env", {})),
        replicas=values.get("replicas", 1),
        memory_mb=values.get("memoryMb", DEFAULT_MEMORY_MB),
        health=values.get("health"),
        read_only=values.get("readOnly", True),
    )


def _env(value: Any) -> dict[str, str]:
    allowed = "a mapping of variable names to strings"
    entries = grammar.mapping(value)
    for key, text in entries.items():
        if not ENV_NAME.fullmatch(str(key)) or not isinstance(text, str):
            raise grammar.Invalid(allowed)
    return entries


# Traefik's own router of its dashboard and API (stack/configs/traefik_yaml.py), the hyphenated
# spelling of a part whose key has an underscore, and Prometheus' job names (an entry with
# metrics gets a job named after it): node-exporter's (stack/node_exporter.JOB) and the probes'.
_LAB_NAMES = (
    "dashboard",
    "node-exporter",
    "elasticsearch-exporter",
    "logstash-exporter",
    "node",
    blackbox_yaml.CALL_JOB,
    blackbox_yaml.HEALTH_JOB,
)


def parse(
    value: Any, part_names: Iterable[str], ui_paths: Sequence[str]
) -> tuple[UserService, ...]:
    """Every entry of `lab:services` (a list, or its JSON text from the engine), checked alone
    and against the others and the lab's own: the functions, `part_names` (its parts) and the
    routes of the functions (`/fibonacci/`), `ui_paths` (`/grafana`, `/kibana`) and the UIs
    behind Traefik's login (`/prometheus`, `/alertmanager`)."""
    reserved_names = (*FUNCTIONS, *part_names, *_LAB_NAMES, *exposure.GUARDED_ROUTES)
    reserved_paths = (
        *(f"/{function}/" for function in FUNCTIONS),
        *ui_paths,
        *(f"/{ui}" for ui in exposure.GUARDED_ROUTES),
    )
    if isinstance(value, str):
        value = grammar.from_engine(value)
    if not isinstance(value, list):
        raise Refused(f"lab:{KEY} = {value!r} is invalid: expected a list of entries")
    reserved = set(reserved_names)
    found: list[UserService] = []
    for index, entry in enumerate(value):
        service = _entry(index, entry)
        if service.name in reserved:
            raise _refuse(index, entry, f"name {service.name!r} is taken by the lab itself")
        for earlier in found:
            if earlier.name == service.name:
                raise _refuse(index, entry, f"name {service.name!r} is used twice")
            if overlaps(service.path, earlier.path + "/"):
                same = "is" if service.path == earlier.path else "overlaps"
                raise _refuse(
                    index, entry, f"path {service.path} {same} {earlier.name!r}'s {earlier.path}"
                )
        for route in reserved_paths:
            if overlaps(service.path, route):
                raise _refuse(
                    index, entry, f"path {service.path} would shadow the lab's route {route}"
                )
        found.append(service)
    return tuple(found)
