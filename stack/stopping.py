"""How long each part gets between SIGTERM and SIGKILL when the program stops it, one row per
row of stack/hardening.py, each with what the part does in that time and where that comes from.

The docker provider stops a container before removing it, on `make down` and on every
replacement, with `destroy_grace_seconds` as the timeout, and with 0 s (at once SIGKILL) when
none is given (kreuzwerker/terraform-provider-docker v4.5.0,
internal/provider/resource_docker_container_funcs.go, resourceDockerContainerDelete). On Swarm
the task's `stop_grace_period` plays that part (Swarm's own default is 10 s; the provider waits
that long for each task's container on delete: resource_docker_service_funcs.go deleteService).
stack/containers.part_container() and stack/swarm_objects.part_service() declare the row.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from app.contract import IN_FLIGHT_TIMEOUT_SECONDS, MAX_DRAIN_SECONDS


class StopGrace(NamedTuple):
    seconds: int  # SIGTERM -> SIGKILL
    why: str  # what the part does in that time, and the source of the figure


# Time a process needs after its own deadline to close sockets, write its last log line, exit.
EXIT_MARGIN_SECONDS = 2
# Docker's own stop timeout (`docker stop --time`, default 10 s; Swarm's stop_grace_period too).
DOCKER_DEFAULT_SECONDS = 10
_STATELESS = 5
_STATELESS_WHY = "holds no state and no long request: exits on SIGTERM; 5 s bounds `make down`"


def app_grace_seconds() -> int:
    """The function service's stop (app/server.py serve()): /health answers 503 for the drain
    window (at most MAX_DRAIN_SECONDS), then the calls in flight get IN_FLIGHT_TIMEOUT_SECONDS,
    then it logs `stopped` and exits."""
    return math.ceil(MAX_DRAIN_SECONDS + IN_FLIGHT_TIMEOUT_SECONDS) + EXIT_MARGIN_SECONDS


STOP_GRACE: Mapping[str, StopGrace] = MappingProxyType(
    {
        "function": StopGrace(
            app_grace_seconds(),
            "drain window + in-flight wait of app/server.py, then the exit",
        ),
        "logstash_exporter": StopGrace(_STATELESS, _STATELESS_WHY),
        "traefik": StopGrace(
            10 + EXIT_MARGIN_SECONDS,
            "finishes the requests it holds for lifeCycle.graceTimeOut, 10 s by default"
            " (traefik/traefik pkg/config/static DefaultGraceTimeout; the lab keeps it)",
        ),
        "prometheus": StopGrace(
            30,
            "stops scraping and rules, then closes the TSDB (WAL flushed, lock file removed):"
            " well under a second for the lab's retention, 30 s for a busy disk;"
            " tests/live/test_stop_grace.py shows a clean start after such a stop",
        ),
        "alertmanager": StopGrace(
            DOCKER_DEFAULT_SECONDS,
            "writes its notification log and silences snapshots on shutdown; Docker's default",
        ),
        "blackbox": StopGrace(_STATELESS, _STATELESS_WHY),
        "node_exporter": StopGrace(_STATELESS, _STATELESS_WHY),
        "elasticsearch_exporter": StopGrace(_STATELESS, _STATELESS_WHY),
        "grafana": StopGrace(
            30 + EXIT_MARGIN_SECONDS,
            "its server shutdown waits up to 30 s (grafana/grafana"
            " pkg/cmd/grafana-server/commands/cli.go listenToSystemSignals)",
        ),
        "elasticsearch": StopGrace(
            120,
            "flushes and closes its shards (translog, security index): Elastic's own chart"
            " waits 120 s (elastic/helm-charts elasticsearch/values.yaml"
            " terminationGracePeriod: 120)",
        ),
        "logstash": StopGrace(
            120,
            "drains the events in flight through its outputs before it exits (no"
            " pipeline.unsafe_shutdown): Elastic's chart waits 120 s (elastic/helm-charts"
            " logstash/values.yaml terminationGracePeriod: 120)",
        ),
        "kibana": StopGrace(
            30 + EXIT_MARGIN_SECONDS,
            "server.shutdownTimeout, 30 s by default (elastic/kibana http_config.ts"
            " shutdownTimeout defaultValue '30s')",
        ),
    }
)


def swarm_duration(seconds: int) -> str:
    """Whole seconds as the provider reads a Swarm duration back (shortDur in
    resource_docker_service_structures.go: Go's Duration.String() without a trailing `0s`),
    so the next plan does not diff: 12 -> `12s`, 120 -> `2m`, 90 -> `1m30s`."""
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest}s"
    return f"{minutes}m{rest}s" if rest else f"{minutes}m"


_SECONDS = {"h": 3600, "m": 60, "s": 1}


def duration_seconds(text: str) -> int:
    """Whole seconds of a duration the lab writes (`10s`, `1m30s`, `2m`)."""
    parts = re.findall(r"([0-9]+)(h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration in whole seconds: {text!r}")
    return sum(int(n) * _SECONDS[u] for n, u in parts)
