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
