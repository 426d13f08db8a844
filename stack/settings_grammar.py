"""How one `lab:` value is read, whatever wrote it (YAML or the Pulumi engine's text): the
converters behind stack/settings.py, each raising Invalid with what would be allowed."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any


class Invalid(Exception):
    """Not a value of this kind; `allowed` says what would be."""

    def __init__(self, allowed: str) -> None:
        super().__init__(allowed)
        self.allowed = allowed


def boolean(value: Any) -> bool:
    # Pulumi's get_bool grammar: only true/false (YAML gives bools, the engine strings).
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    raise Invalid("true or false")


def integer(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise Invalid(f"an integer from {low} to {high}")
    if isinstance(value, str) and re.fullmatch(r"[0-9]+", value):
        value = int(value)
    if not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"an integer from {low} to {high}")
    return value


def text(value: Any, pattern: re.Pattern[str], allowed: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise Invalid(allowed)
    return value


def address(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except (TypeError, ValueError):
        raise Invalid("an IP address such as 127.0.0.1") from None


def mapping(value: Any) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise Invalid("a mapping") from None
    if not isinstance(value, Mapping):
        raise Invalid("a mapping")
    return dict(value)


def names(value: Any, choices: tuple[str, ...]) -> tuple[str, ...]:
    """A list of names, each one of `choices`, without repeats (a YAML list; the engine's
    JSON text of one)."""
    allowed = f"a list of port keys, each one of {', '.join(choices)}"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise Invalid(allowed) from None
    if not isinstance(value, list) or not all(item in choices for item in value):
        raise Invalid(allowed)
    if len(set(value)) != len(value):
        raise Invalid(f"{allowed}, each named once")
    return tuple(value)


def choice(value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise Invalid(" or ".join(choices))
    return value


def from_engine(value: Any) -> Any:
    """The engine hands every value over as text: `3`, `true` and `{...}` arrive as strings."""
    if not isinstance(value, str):
        return value
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        return value
    return value if isinstance(decoded, str) else decoded


_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_ALERT_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d))+$")
_ELASTIC_DURATION = re.compile(r"^[1-9][0-9]*(d|h|m|s)$")
_BYTE_SIZE = re.compile(r"^[1-9][0-9]*(B|KB|MB|GB|TB)$")
_JVM_SIZE = re.compile(r"^([1-9][0-9]*)([mMgG])$")


def duration(value: Any) -> str:
    return text(value, _DURATION, "a Prometheus duration such as 7d or 12h")


def jvm_size(value: Any) -> str:
    return text(value, _JVM_SIZE, "a JVM heap size such as 1g or 512m")


def heap_mb(heap: str) -> int:
    """A JVM size already checked by jvm_size(), in MB."""
    number, unit = _JVM_SIZE.fullmatch(heap).groups()
    return int(number) * (1024 if unit in "gG" else 1)


def alert_duration(value: Any) -> str:
    return text(value, _ALERT_DURATION, "an alert `for:` duration such as 30s, 1m or 1h30m")


def elastic_duration(value: Any) -> str:
    # Elasticsearch's TimeValue units that ILM's min_age reads; one number, one unit.
    return text(value, _ELASTIC_DURATION, "an Elasticsearch duration such as 7d or 36h")


def byte_size(value: Any) -> str:
    # Prometheus's --storage.tsdb.retention.size units.
    return text(value, _BYTE_SIZE, "a size such as 512MB or 2GB")
