"""What every part of the lab agrees on: functions and limits, metric and log names, ports.

This module ships in the app image and imports nothing of the lab, so the function service,
the Pulumi program (`stack/`), the dashboards and the front door all read the same facts.
Change a value here and every renderer, dashboard and test follows (docs/contract.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# The functions the API exposes, in the order the lab shows them, with each argument's name
# and inclusive maximum (`/{function}/{arg1}/[{arg2}/]`).
FUNCTION_ARGUMENTS: Mapping[str, tuple[tuple[str, int], ...]] = MappingProxyType(
    {
        "fibonacci": (("n", 400),),
        "factorial": (("n", 400),),
        "ackermann": (("m", 3), ("n", 4)),
    }
)
FUNCTIONS: tuple[str, ...] = tuple(FUNCTION_ARGUMENTS)

# One call per function with its exact answer: what the black-box probes and the smoke checks
# send, and what they expect in the body.
SAMPLE_CALLS: Mapping[str, tuple[tuple[int, ...], str]] = MappingProxyType(
    {
        "fibonacci": ((10,), "55"),
        "factorial": ((10,), "3628800"),
        "ackermann": ((2, 2), "7"),
    }
)

# The service's own port inside its container, and its probe paths.
APP_PORT = 8080
HEALTH_PATH = "/health"
METRICS_PATH = "/metrics"
# The app image runs as this unprivileged uid:gid whatever users the base image defines.
APP_USER = "10001:10001"

# Metric names (Prometheus naming guide: one prefix, base units, counters end in _total).
METRIC_PREFIX = "lab_"
REQUESTS_TOTAL = "lab_requests_total"
REQUEST_DURATION = "lab_request_duration_seconds"
COMPUTE_DURATION = "lab_compute_duration_seconds"
REQUESTS_IN_FLIGHT = "lab_requests_in_flight"
REJECTED_TOTAL = "lab_rejected_requests_total"
# Incident drills (app/faults.py): which fault is switched on, and the limit memory grows to.
DRILL_FAULT_ACTIVE = "lab_drill_fault_active"
MEMORY_LIMIT_BYTES = "lab_memory_limit_bytes"
# prometheus-client's process collector (Linux /proc): the replica's resident memory.
PROCESS_RESIDENT_MEMORY = "process_resident_memory_bytes"

# Shared by the app's histograms and Traefik's static config, so their quantiles compare
# bucket by bucket and the proxy-overhead panel is a subtraction of like with like.
HISTOGRAM_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    1,
)
# The status codes the service answers itself, pre-created so dashboards show 0, not no data.
EXPECTED_CODES: tuple[int, ...] = (200, 400, 404, 405, 500)
# Why the service refused a request or a connection before any handler ran: the `reason` label
# of REJECTED_TOTAL (pre-created at 0) and the `event.reason` of its log line (app/CONTRACT.md).
REJECTION_REASONS: tuple[str, ...] = (
    "body_too_large",
    "headers_too_large",
    "header_timeout",
    "body_timeout",
    "too_many_connections",
    "bad_request",
)

# Log lines: datasets and loggers of the service's own events.
ACCESS_DATASET = "lab.access"
LIFECYCLE_DATASET = "lab.lifecycle"
SERVICE_NAME_PREFIX = "lab-"
# How a replica stops on SIGTERM (app/server.py serve()): /health answers 503 for the drain
# window (LAB_DRAIN_SECONDS, at most this), then the calls in flight get this long. The
# program's stop grace period (stack/stopping.py) is derived from both.
MAX_DRAIN_SECONDS = 5.0
IN_FLIGHT_TIMEOUT_SECONDS = 4.5

# Every field a shipped log line may carry and the Elasticsearch type it is mapped to
# (docs/contract.md "Log lines"); the index template and the Kibana objects read this.
LOG_FIELD_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "@timestamp": "date",
        "log.level": "keyword",
        "log.logger": "keyword",
        "message": "text",
        "ecs.version": "keyword",
        "service.name": "keyword",
        "event.dataset": "keyword",
        "event.action": "keyword",
        "event.duration": "long",
        "event.reason": "keyword",
        "http.request.method": "keyword",
        "http.response.status_code": "long",
        "url.path": "keyword",
        # Traefik's access lines (stack/configs/logstash_conf.py maps its keys to these).
        "url.domain": "keyword",
        "source.address": "keyword",
        "lab.retry_attempts": "long",
        "lab.function": "keyword",
        "lab.arguments": "keyword",
        "lab.compute.duration": "long",
        "lab.event_loop": "keyword",
        "lab.drain_seconds": "float",
        "lab.unfinished_requests": "long",
        "error.message": "text",
        "error.stack_trace": "text",
        "server.address": "keyword",
        "server.port": "long",
        "container.name": "keyword",
        "container.id": "keyword",
        "container.image.name": "keyword",
        "host.name": "keyword",
    }
)

# Where the log lines land: Logstash writes one index per day under this pattern.
LOGS_INDEX_PREFIX = "lab-logs-"
LOGS_INDEX_PATTERN = LOGS_INDEX_PREFIX + "*"


def service_name(function: str) -> str:
    """The ECS `service.name` of a function's replicas."""
    return SERVICE_NAME_PREFIX + function


def sample_path(function: str) -> str:
    """The URL path of a function's sample call, e.g. `/ackermann/2/2/`."""
    arguments, _ = SAMPLE_CALLS[function]
    return "/" + "/".join([function, *map(str, arguments)]) + "/"
