"""The Prometheus rule file the lab deploys: alerts built from the panels' own expressions.

Each alert is `(<expression>) <comparison> <threshold>`, where the expression comes from
dashboards/promql.py with every function and a fixed window; the overview dashboard shows
the same expression with `$function` and `$__rate_interval`, so what pages is what is drawn.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from app.contract import FUNCTIONS
from dashboards import promql

GROUP = "lab"
# Long enough to smooth a scrape or two, short enough to react within a coffee break.
WINDOW = "5m"
# Prometheus' alert template for the alert's `function` label.
FUNCTION = "{{ $labels.function }}"
# The alert that inhibits every per-function alert in Alertmanager (alertmanager_yaml.py).
TRAEFIK_DOWN = "LabTraefikDown"


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
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary, "description": self.description},
        }


def alerts(functions: Sequence[str] = FUNCTIONS) -> list[Alert]:
    """Every alert of the lab, for these function services."""
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
            query=promql.targets_up(scope.job),
            comparison="==",
            threshold=0,
            duration="1m",
            severity="page",
            summary="{{ $labels.instance }} of {{ $labels.job }} is down",
            description="Prometheus could not scrape {{ $labels.instance }} for a minute; "
            "Traefik's health check should have taken it out of the load balancer.",
        ),
        Alert(
            name=TRAEFIK_DOWN,
            query=promql.targets_up('job="traefik"'),
            comparison="==",
            threshold=0,
            duration="1m",
            severity="page",
            summary="Traefik is down: no function is reachable",
            description="Prometheus could not scrape Traefik ({{ $labels.instance }}) for a "
            "minute; every call to the lab goes through it.",
        ),
    ]


def render(functions: Sequence[str] = FUNCTIONS) -> str:
    """The rule file, as Prometheus' `rule_files` reads it (YAML)."""
    document = {"groups": [{"name": GROUP, "rules": [a.to_rule() for a in alerts(functions)]}]}
    return yaml.safe_dump(document, sort_keys=False, width=1_000_000, allow_unicode=True)
