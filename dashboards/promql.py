"""The PromQL of the lab, in one place: Grafana panels and Prometheus alerts both call these.

An alert and the panel that shows it are built from the same function, so they cannot drift
apart: the panel uses the dashboard's `$function` variable and `$__rate_interval`, the alert
uses every function and a fixed window, and the text is otherwise identical (a test checks).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from app.contract import (
    COMPUTE_DURATION,
    FUNCTIONS,
    LOGS_INDEX_PREFIX,
    MEMORY_LIMIT_BYTES,
    PROCESS_RESIDENT_MEMORY,
    REJECTED_TOTAL,
    REQUEST_DURATION,
    REQUESTS_IN_FLIGHT,
    REQUESTS_TOTAL,
)

APP_LATENCY = REQUEST_DURATION
APP_COMPUTE = COMPUTE_DURATION
TRAEFIK_LATENCY = "traefik_service_request_duration_seconds"
QUANTILES = (0.5, 0.95, 0.99)

# Where "bad" starts: the alerts fire above these, and the panels draw their red line here.
ERROR_RATIO_LIMIT = 0.05
LATENCY_LIMIT_SECONDS = 0.25
# Rejections per second, per function and reason, that make a ticket: a few a minute is a
# client or an attacker hitting the limits, not a stray malformed request.
REJECTION_RATE_LIMIT = 0.05
# Share of the expected log lines that may be late at any moment without anyone being told.
LOG_MISSING_LIMIT = 0.02
# One replica on its own (the incident drills' alerts): a window of four 5 s scrapes, the
# shortest that Prometheus' rate() docs recommend, so a replica going bad shows in seconds.
REPLICA_WINDOW = "20s"
# Mean call time of one replica: the functions answer in well under 10 ms (make bench), so a
# mean above this is a replica holding calls, not a costly argument.
REPLICA_MEAN_LIMIT_SECONDS = 0.1
# Resident memory against the replica's limit: above this share the OOM killer is near.
MEMORY_USED_LIMIT = 0.8


@dataclass(frozen=True)
class Scope:
    """Which functions an expression covers, as a label matcher for each naming scheme.

    The app labels its series `function="fibonacci"`, Traefik `service="fibonacci@file"` and
    Prometheus `job="fibonacci"`; a scope carries the matching matcher for all three.
    """

    function: str
    service: str
    job: str


def one(function: str) -> Scope:
    """A single function, named literally (the per-function rows of a dashboard)."""
    return Scope(f'function="{function}"', f'service="{function}@file"', f'job="{function}"')


# The dashboard's multi-value `function` variable. Grafana expands a multi-value selection in a
# regex matcher to `(a|b|c)`, which is exactly what every() writes for an alert.
PICKED = Scope('function=~"$function"', 'service=~"${function}@file"', 'job=~"$function"')


def every(functions: Sequence[str] = FUNCTIONS) -> Scope:
    """All functions at once (alerts), spelled the way Grafana expands "All" of `$function`."""
    alternation = "(" + "|".join(functions) + ")"
    return Scope(
        f'function=~"{alternation}"',
        f'service=~"{alternation}@file"',
        f'job=~"{alternation}"',
    )


def _rate(metric: str, matchers: str, window: str) -> str:
    return f"rate({metric}{{{matchers}}}[{window}])"


def request_rate(scope: Scope, window: str, *, by: str = "function, code") -> str:
    """Function calls per second as the app counts them."""
    return f"sum by ({by}) ({_rate(REQUESTS_TOTAL, scope.function, window)})"


def status_ratio(scope: Scope, window: str, status_class: str) -> str:
    """Share of calls answered with a `status_class`xx code (`"4"` or `"5"`), 0..1.

    The app only creates a code's series once it has answered with it, so a function that never
    failed has no 5xx series at all; the `or ... * 0` turns that into an honest 0 instead of
    "No data".
    """
    total = f"sum by (function) ({_rate(REQUESTS_TOTAL, scope.function, window)})"
    failed_matchers = f'{scope.function}, code=~"{status_class}.."'
    failed = f"sum by (function) ({_rate(REQUESTS_TOTAL, failed_matchers, window)})"
    return f"({failed} / {total}) or ({total} * 0)"


def app_quantile(quantile: float, scope: Scope, window: str, *, metric: str = APP_LATENCY) -> str:
    """A latency quantile from one of the app's histograms, per function."""
    buckets = _rate(f"{metric}_bucket", scope.function, window)
    return f"histogram_quantile({quantile}, sum by (function, le) ({buckets}))"


def traefik_quantile(quantile: float, scope: Scope, window: str) -> str:
    """A latency quantile as Traefik measures it (proxy plus backend), per function.

    Traefik's `service` label is renamed to the app's `function` label, so Traefik and app
    quantiles subtract series by series.
    """
    buckets = _rate(f"{TRAEFIK_LATENCY}_bucket", scope.service, window)
    relabelled = f'label_replace({buckets}, "function", "$1", "service", "(.+)@file")'
    return f"histogram_quantile({quantile}, sum by (function, le) ({relabelled}))"


def traefik_overhead(quantile: float, scope: Scope, window: str) -> str:
    """What Traefik adds on top of the handler: its quantile minus the app's, per function.

    A difference of quantiles is not the quantile of the difference; it is the honest reading
    the shared bucket boundaries allow, and it is what the original README asked readers to
    work out by hand.
    """
    return f"{traefik_quantile(quantile, scope, window)} - {app_quantile(quantile, scope, window)}"


def in_flight(scope: Scope) -> str:
    """Calls being handled right now, summed over replicas."""
    return f"sum by (function) ({REQUESTS_IN_FLIGHT}{{{scope.function}}})"


def _per_replica(expr: str) -> str:
    """An expression by scrape target, with the job copied to `function` (the label
    Alertmanager groups and inhibits on)."""
    return f'label_replace({expr}, "function", "$1", "job", "(.+)")'


def replica_mean_call_seconds(scope: Scope, window: str = REPLICA_WINDOW) -> str:
    """Mean time to answer a call, per replica (LabReplicaSlow)."""
    total = f"sum by (job, instance) ({_rate(APP_LATENCY + '_sum', scope.job, window)})"
    count = f"sum by (job, instance) ({_rate(APP_LATENCY + '_count', scope.job, window)})"
    return _per_replica(f"{total} / {count}")


def replica_error_ratio(scope: Scope, window: str = REPLICA_WINDOW) -> str:
    """Share of one replica's calls answered with a 5xx (LabReplicaErrors)."""
    failed = f'{scope.job},code=~"5.."'
    errors = f"sum by (job, instance) ({_rate(REQUESTS_TOTAL, failed, window)})"
    calls = f"sum by (job, instance) ({_rate(REQUESTS_TOTAL, scope.job, window)})"
    return _per_replica(f"{errors} / {calls}")


def replica_memory_used(scope: Scope) -> str:
    """Resident memory as a share of the replica's limit (LabReplicaMemoryHigh)."""
    used = f"max by (job, instance) ({PROCESS_RESIDENT_MEMORY}{{{scope.job}}})"
    limit = f"max by (job, instance) ({MEMORY_LIMIT_BYTES}{{{scope.job}}})"
    return _per_replica(f"{used} / {limit}")


def targets_up(job_matcher: str) -> str:
    """Prometheus' own view of each scrape target: 1 up, 0 down."""
    return f"up{{{job_matcher}}}"


def function_targets_up(scope: Scope) -> str:
    """`targets_up` of the function jobs with the job copied to `function`, the label
    Alertmanager groups and inhibits on (LabTargetDown)."""
    return f'label_replace({targets_up(scope.job)}, "function", "$1", "job", "(.+)")'


def probe_success(selector: str = "") -> str:
    """The blackbox exporter's verdict per probe: 1 healthy, 0 not (LabProbeFailed)."""
    return f"probe_success{selector}"


def probe_duration(selector: str = "") -> str:
    """Seconds each probe took, all phases."""
    return f"probe_duration_seconds{selector}"


def replicas_scraped(scope: Scope) -> str:
    """Replicas Prometheus reaches, per function."""
    return f"sum by (job) ({targets_up(scope.job)})"


def replicas_healthy_in_traefik(scope: Scope) -> str:
    """Replicas Traefik's health check keeps in the load balancer, per function."""
    return f"sum by (service) (traefik_service_server_up{{{scope.service}}})"


def entrypoint_rate(window: str, entrypoint: str = "web") -> str:
    """Everything that reached Traefik's API entrypoint, by status code (404s included)."""
    return (
        "sum by (code) "
        f'(rate(traefik_entrypoint_requests_total{{entrypoint="{entrypoint}"}}[{window}]))'
    )


def traefik_status_ratio(scope: Scope, window: str, status_class: str = "5") -> str:
    """Share of calls Traefik answered with a `status_class`xx code, per function.

    Traefik's own counter sees what the app's cannot: 502/503/504 when a replica is gone or
    too slow, and 500s Traefik makes itself. `service` is renamed to `function`, the label
    Alertmanager groups and inhibits on.
    """
    counter = "traefik_service_requests_total"
    total = f"sum by (service) ({_rate(counter, scope.service, window)})"
    failed_matchers = f'{scope.service}, code=~"{status_class}.."'
    failed = f"sum by (service) ({_rate(counter, failed_matchers, window)})"
    ratio = f"({failed} / {total}) or ({total} * 0)"
    return f'label_replace({ratio}, "function", "$1", "service", "(.+)@file")'


def entrypoint_errors(window: str, entrypoint: str = "web") -> str:
    """Calls per second Traefik's entrypoint answered 4xx or 5xx, by code: unknown paths and
    invalid input (4xx), and what failed behind or inside Traefik (5xx)."""
    matchers = f'entrypoint="{entrypoint}", code=~"[45].."'
    return f"sum by (code) ({_rate('traefik_entrypoint_requests_total', matchers, window)})"


def rejected_rate(scope: Scope, window: str) -> str:
    """Requests and connections a replica refused before any handler ran (parser and limits:
    body or headers too large, too slow, too many connections), per function and reason."""
    return f"sum by (function, reason) ({_rate(REJECTED_TOTAL, scope.function, window)})"


# -- The host (node-exporter) ---------------------------------------------------------------

# Docker's default data root; its disk is what fills when images, volumes and logs grow.
DOCKER_DATA_DIR = "/var/lib/docker"


def cpu_busy_by_mode(window: str) -> str:
    """Share of all the host's CPUs busy per mode (user, system, iowait, steal, ...), 0..1."""
    busy = f'rate(node_cpu_seconds_total{{mode!="idle"}}[{window}])'
    cpus = 'count without (cpu, mode) (node_cpu_seconds_total{mode="idle"})'
    return f"sum without (cpu) ({busy}) / on (instance, job) group_left {cpus}"


def load_per_core() -> str:
    """The 1-minute load average divided by the number of CPUs: above 1, work waits for a CPU."""
    cpus = 'count without (cpu, mode) (node_cpu_seconds_total{mode="idle"})'
    return f"node_load1 / on (instance, job) {cpus}"


def memory_available() -> str:
    """Bytes the kernel can hand out without swapping (MemAvailable)."""
    return "node_memory_MemAvailable_bytes"


def mountpoint_of(path: str) -> list[str]:
    """`path` and each directory above it, deepest first: the candidates for its filesystem."""
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:n]) for n in range(len(parts), 0, -1)] + ["/"]


def disk_available(path: str = DOCKER_DATA_DIR) -> str:
    """Free bytes on the filesystem holding `path`, as node-exporter sees the host's mounts.

    The filesystem is the deepest mount point among `path` and its parents: each candidate is
    tried deepest first and `or on (instance)` keeps the first that exists, so a separate
    /var/lib/docker disk and a plain directory on / both work.
    """
    candidates = [
        f'max by (instance, mountpoint) (node_filesystem_avail_bytes{{mountpoint="{m}"}})'
        for m in mountpoint_of(path)
    ]
    return " or on (instance) ".join(candidates)


def network_bytes(direction: str, window: str) -> str:
    """Bytes per second received (`receive`) or sent (`transmit`) per interface, loopback
    and Docker's virtual interfaces left out (their traffic is counted on the real one too)."""
    metric = f"node_network_{direction}_bytes_total"
    matchers = 'device!~"lo|veth.*|docker.*|br-.*"'
    return f"sum by (instance, device) ({_rate(metric, matchers, window)})"


# -- Alerts (Prometheus' ALERTS series) -------------------------------------------------------


def firing_alerts() -> str:
    """One series per firing alert while it fires: Grafana draws each as a region from start
    to end (the annotations of "Lab overview")."""
    return 'ALERTS{alertstate="firing"}'


# -- Log delivery: calls answered minus lines indexed ----------------------------------------

# The elasticsearch exporter's documents per index, primaries only (with --es.indices;
# prometheus-community/elasticsearch_exporter collector/indices.go, the same name in 1.5.0,
# Debian's stand-in, and 1.9.0, the pinned image).
INDEXED_DOCS = "elasticsearch_indices_docs_primary"
# The window of the comparison, in the panel and the alert alike (a gauge's delta and counters'
# increase over a short window would show Logstash's batching delay as loss).
LOG_WINDOW = "10m"
TRAEFIK_ENTRYPOINT_REQUESTS = "traefik_entrypoint_requests_total"


def log_lines_expected(window: str) -> str:
    """Lines that must reach the log index over `window`: one access line per call the app
    answered, one per request at Traefik's entrypoint (its access log), one per rejection."""
    counters = (REQUESTS_TOTAL, TRAEFIK_ENTRYPOINT_REQUESTS, REJECTED_TOTAL)
    return " + ".join(f"sum(increase({metric}[{window}]))" for metric in counters)


def log_lines_indexed(window: str, index_prefix: str = LOGS_INDEX_PREFIX) -> str:
    """Documents added to the lab's log indices over `window`.

    A gauge per daily index: delta per index, then the sum, so a new day's index starts from
    its own first sample and a deleted old index (retention) subtracts nothing.
    """
    selector = f'{INDEXED_DOCS}{{index=~"{index_prefix}.*"}}'
    return f"sum(delta({selector}[{window}]))"


def log_lines_missing(window: str) -> str:
    """Lines expected minus lines indexed over `window`: above 0 means lines were lost or are
    late (Logstash batching and Elasticsearch's refresh take seconds). Lines nobody counts
    (start-up and shut-down) only push it down, so a positive number is a floor of the loss."""
    return f"({log_lines_expected(window)}) - {log_lines_indexed(window)}"


def log_lines_missing_share(window: str) -> str:
    """The same as a share of the lines expected, 0..1 (NaN with no traffic at all)."""
    return f"({log_lines_missing(window)}) / ({log_lines_expected(window)})"
