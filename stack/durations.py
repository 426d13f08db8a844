"""Durations as the docker provider reads them back, so a declared one never differs from the
state: Go's time.Duration.String() for a container's health check, and shortDur's form for a
Swarm service's (terraform-provider-docker v4.5.0: resource_docker_container_funcs.go Read,
resource_docker_service_structures.go shortDur; docs/product-rules.md D3)."""

from __future__ import annotations

import re

_UNIT_MS = {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}


def go_duration(text: str) -> str:
    """A duration as Go's time.Duration.String() writes it (`90s` -> `1m30s`): the provider
    reads health checks back in that form, so any other spelling diffs on every `up`
    (docs/product-rules.md D3)."""
    parts = re.findall(r"([0-9]+)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    ms = sum(int(n) * _UNIT_MS[u] for n, u in parts)
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = f"{rest // 1000}" + (f".{rest % 1000:03d}".rstrip("0") if rest % 1000 else "")
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def service_duration(text: str) -> str:
    """A service duration as the provider reads it back: Go's Duration.String() with a
    trailing `m0s`, then `h0m`, cut off (terraform-provider-docker v4.5.0
    resource_docker_service_structures.go shortDur: `60s` -> `1m`, `90s` -> `1m30s`,
    `10h` -> `10h`). Any other spelling differs from the state on every plan."""
    text = go_duration(text)
    if text.endswith("m0s"):
        text = text[:-2]
    if text.endswith("h0m"):
        text = text[:-2]
    return text
