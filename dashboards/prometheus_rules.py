"""The Prometheus rule file the lab deploys: alerts built from the panels' own expressions.

Each alert is `(<expression>) <comparison> <threshold>`, where the expression comes from
dashboards/promql.py with every function and a fixed window; the overview dashboard shows
the same expression with `$function` and `$__rate_interval`, so what pages is what is drawn.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

import yaml

from app.contract import FUNCTIONS
from dashboards import promql

GROUP = "lab"
# Long enough to smooth a scrape or two, short enough to react within a coffee break.
WINDOW = "5m"
# Calls answered against lines indexed: long enough that seconds of Logstash batching and
# Elasticsearch refresh are a small share of it (the panel uses the same window).
LOG_WINDOW = promql.LOG_WINDOW
REJECTION_RATE_LIMIT = promql.REJECTION_RATE_LIMIT
LOG_MISSING_LIMIT = promql.LOG_MISSING_LIMIT
# Prometheus' alert template for the alert's `function` label.
FUNCTION = "{{ $labels.function }}"
# The alert that inhibits every per-function alert in Alertmanager (alertmanager_yaml.py).
TRAEFIK_DOWN = "LabTraefikDown"
# The blackbox exporter's probe series carry the probed part in this label
# (stack/configs/blackbox_yaml.PART_LABEL; dashboards/ may not import stack/).
PART = "{{ $labels.part }}"
REASON = "{{ $labels.reason }}"
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
# Down and per-replica alerts: true on two evaluations in a row (5 s apart at the lab's
# evaluation interval), so one missed scrape does not page and a dead replica pages within
# about 15 s (docs/incidents.md: what bounds each drill's time to detect).
DOWN_FOR = "5s"
REPLICA_FOR = "5s"


@dataclass(frozen=True)
class Alert:
    """One alerting rule; `query` is shared with a dashboard panel."""

    name: str
    query: str
    comparison: str
    threshold: float
    duration: str
    severity: str
    summary: str
    description: str
    # Prometheus keeps the alert firing this long after its condition clears.
    keep_firing_for: str | None = None

    @property
    def expr(self) -> str:
        # The parentheses keep a low-precedence `or` inside the query from swallowing the
        # comparison.
        return f"({self.query}) {self.comparison} {self.threshold:g}"

    def to_rule(self) -> dict:
        # Annotations name labels only, never $value: what a person reads is the same on
        # every evaluation, and promtool's unit tests can state it exactly.
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.duration,
            **({"keep_firing_for": self.keep_firing_for} if self.keep_firing_for else {}),
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary, "description": self.description},
        }


def seconds(duration: str) -> float:
    """A Prometheus duration such as 1m30s in seconds."""
    parts = re.findall(r"([0-9]+)(ms|s|m|h|d)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _DURATION_SECONDS[u] for n, u in parts)


def alerts(
    functions: Sequence[str] = FUNCTIONS, durations: Mapping[str, str] = MappingProxyType({})
) -> list[Alert]:
    """Every alert of the lab, for these function services; `durations` replaces the `for:`
    of the alerts it names (the fault tests shorten them).

    Alertmanager's inhibition only holds back what arrives while Traefik-down fires, so its
    `for:` may not be longer than that of any alert with a `function` label.
    """
    found = [replace(a, duration=durations.get(a.name, a.duration)) for a in _alerts(functions)]
    unknown = set(durations) - {a.name for a in found}
    if unknown:
        raise ValueError(f"no such alert: {sorted(unknown)}")
    traefik = next(a for a in found if a.name == TRAEFIK_DOWN)
    shorter = [a.name for a in found if seconds(a.duration) < seconds(traefik.duration)]
    if shorter:
        raise ValueError(
            f"{TRAEFIK_DOWN}'s for: {traefik.duration} is longer than that of {sorted(shorter)}"
            " (its inhibition would come too late)"
        )
    return found


def _alerts(functions: Sequence[str]) -> list[Alert]:
    scope = promql.every(functions)
    error_percent = f"{promql.ERROR_RATIO_LIMIT * 100:g}%"
    latency_ms = f"{promql.LATENCY_LIMIT_SECONDS * 1000:g} ms"
    return [
        Alert(
            name="LabHighErrorRatio",
            query=promql.status_ratio(scope, WINDOW, "5"),
            comparison=">",
            threshold=promql.ERROR_RATIO_LIMIT,
            duration="5m",
            severity="page",
            summary=f"{FUNCTION} fails more than {error_percent} of its calls",
            description=f"{FUNCTION} answered more than {error_percent} of its calls with a "
            "5xx over the last 5 minutes. Nothing a client sends should do that: read the "
            "service's error logs in Kibana (saved search lab-errors).",
        ),
        Alert(
            name="LabSlowCalls",
            query=promql.traefik_quantile(0.95, scope, WINDOW),
            comparison=">",
            threshold=promql.LATENCY_LIMIT_SECONDS,
            duration="10m",
            severity="ticket",
            summary=f"{FUNCTION} p95 latency above {latency_ms}",
            description=f"For 10 minutes, 5% of the calls to {FUNCTION} took more than "
            f"{latency_ms} as Traefik measures it. The overview dashboard's Traefik, app and "
            "compute latency panels show where the time goes.",
        ),
        Alert(
            name="LabTargetDown",
            # The job is the function: copied to `function`, the label Alertmanager groups
            # and inhibits on.
            query=promql.function_targets_up(scope),
            comparison="==",
            threshold=0,
            duration=DOWN_FOR,
            severity="page",
            summary="{{ $labels.instance }} of {{ $labels.job }} is down",
            description="Prometheus could not scrape {{ $labels.instance }} twice in a row; "
            "Traefik's health check should have taken it out of the load balancer.",
        ),
        Alert(
            name=TRAEFIK_DOWN,
            query=promql.targets_up('job="traefik"'),
            comparison="==",
            threshold=0,
            duration=DOWN_FOR,
            severity="page",
            summary="Traefik is down: no function is reachable",
            description="Prometheus could not scrape Traefik ({{ $labels.instance }}) twice in "
            "a row; every call to the lab goes through it.",
            # Its inhibition of the per-function alerts ends when it resolves; a probe through
            # Traefik recovers a scrape later, and would otherwise be sent as firing.
            keep_firing_for="15s",
        ),
        Alert(
            name="LabReplicaSlow",
            query=promql.replica_mean_call_seconds(scope),
            comparison=">",
            threshold=promql.REPLICA_MEAN_LIMIT_SECONDS,
            duration=REPLICA_FOR,
            severity="ticket",
            summary="{{ $labels.instance }} of " + FUNCTION + " holds its calls",
            description="Over the last " + promql.REPLICA_WINDOW + " the mean call time of "
            "{{ $labels.instance }} stayed above "
            f"{promql.REPLICA_MEAN_LIMIT_SECONDS * 1000:g} ms while the functions answer in "
            "milliseconds: the replica, not the argument, is slow. Compare it with its "
            "siblings on the overview's Replicas row.",
        ),
        Alert(
            name="LabReplicaErrors",
            query=promql.replica_error_ratio(scope),
            comparison=">",
            threshold=promql.ERROR_RATIO_LIMIT,
            duration=REPLICA_FOR,
            severity="page",
            summary="{{ $labels.instance }} of " + FUNCTION + " answers 5xx",
            description="Over the last " + promql.REPLICA_WINDOW + " more than "
            f"{error_percent} of the calls {{{{ $labels.instance }}}} answered were 5xx. Its "
            "error lines are in Kibana's lab-errors search.",
        ),
        Alert(
            name="LabReplicaMemoryHigh",
            query=promql.replica_memory_used(scope),
            comparison=">",
            threshold=promql.MEMORY_USED_LIMIT,
            duration=REPLICA_FOR,
            severity="ticket",
            summary="{{ $labels.instance }} of " + FUNCTION + " nears its memory limit",
            description=f"{{{{ $labels.instance }}}} holds more than "
            f"{promql.MEMORY_USED_LIMIT * 100:g}% of its memory limit; at the limit the "
            "kernel's OOM killer ends it and Docker restarts it.",
        ),
        Alert(
            name="LabProbeFailed",
            query=promql.probe_success(),
            comparison="==",
            threshold=0,
            duration="1m",
            severity="page",
            summary=f"The probe of {PART} fails",
            description=f"For a minute the blackbox exporter's probe of {PART} "
            "({{ $labels.instance }}) got no healthy answer: a function's sample call through "
            "Traefik without its exact result, or a part's health endpoint not healthy. "
            "Overview's parts-up row shows since when.",
        ),
        Alert(
            name="LabTraefikErrorRatio",
            query=promql.traefik_status_ratio(scope, WINDOW, "5"),
            comparison=">",
            threshold=promql.ERROR_RATIO_LIMIT,
            duration="5m",
            severity="page",
            summary=f"Traefik fails more than {error_percent} of the calls to {FUNCTION} (5xx)",
            description=f"Over the last 5 minutes Traefik answered more than {error_percent} of "
            f"the calls to {FUNCTION} with a 5xx: 502/503/504 when no replica answers (a "
            "killed or wedged replica), 500 from Traefik itself. The app's own counter does "
            "not see these; Traefik's access lines in Kibana do.",
        ),
        Alert(
            name="LabRequestsRejected",
            query=promql.rejected_rate(scope, WINDOW),
            comparison=">",
            threshold=REJECTION_RATE_LIMIT,
            duration="5m",
            severity="ticket",
            summary=f"{FUNCTION} refuses requests: {REASON}",
            description=f"For 5 minutes the replicas of {FUNCTION} refused more than "
            f"{REJECTION_RATE_LIMIT * 60:g} requests or connections a minute before any handler "
            f"ran ({REASON}): a client sending bodies, headers or connections beyond the "
            "limits, or too slowly. Each refusal is a log line with event.reason.",
        ),
        Alert(
            name="LabLogLinesMissing",
            query=promql.log_lines_missing_share(LOG_WINDOW),
            comparison=">",
            threshold=LOG_MISSING_LIMIT,
            duration="5m",
            severity="ticket",
            summary=f"More than {LOG_MISSING_LIMIT * 100:g}% of the log lines are not indexed",
            description=f"Over the last {LOG_WINDOW}, calls answered (app, Traefik, "
            "rejections) outnumber the lines Elasticsearch indexed in the lab-logs indices by "
            f"more than {LOG_MISSING_LIMIT * 100:g}%: Logstash is down or behind, documents "
            "went to its dead-letter queue, or Elasticsearch refuses writes (disk watermark).",
        ),
    ]


# Alerts on metrics only an optional part produces: left out of the rule file without it.
PROBE_ALERTS = frozenset({"LabProbeFailed"})  # the blackbox exporter's probe_success
LOG_DELIVERY_ALERTS = frozenset({"LabLogLinesMissing"})  # the Elasticsearch exporter's counts


def render(
    functions: Sequence[str] = FUNCTIONS,
    durations: Mapping[str, str] = MappingProxyType({}),
    *,
    probes: bool = True,
    log_delivery: bool = True,
) -> str:
    """The rule file, as Prometheus' `rule_files` reads it (YAML), without the alerts of the
    probes or of log delivery when their exporter is not deployed."""
    left_out = (set() if probes else PROBE_ALERTS) | (
        set() if log_delivery else LOG_DELIVERY_ALERTS
    )
    rules = [a.to_rule() for a in alerts(functions, durations) if a.name not in left_out]
    document = {"groups": [{"name": GROUP, "rules": rules}]}
    return yaml.safe_dump(document, sort_keys=False, width=1_000_000, allow_unicode=True)
