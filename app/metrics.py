"""The service's Prometheus metrics: one registry per application, every series pre-created.

Names, buckets and the codes to pre-create come from app/contract.py, which Traefik's config
and the dashboards read too; labels stay low-cardinality (function, status code).
"""

from __future__ import annotations

import time
from bisect import bisect_left

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.contract import (
    COMPUTE_DURATION,
    EXEMPLAR_TRACE_LABEL,
    EXPECTED_CODES,
    HISTOGRAM_BUCKETS,
    INVALID_TRACEPARENTS_TOTAL,
    REJECTED_TOTAL,
    REJECTION_REASONS,
    REQUEST_DURATION,
    REQUESTS_IN_FLIGHT,
    REQUESTS_TOTAL,
)

# prometheus-client appends `_total` to a counter's name itself.
_COUNTER_SUFFIX = "_total"
# A bucket keeps only its latest exemplar, and Prometheus reads it once per scrape (5 s), so
# an exemplar on every call only costs: each bucket gets one at most this often, and a bucket
# rarely hit (the spike) gets one on its first call.
EXEMPLAR_INTERVAL_NS = 1_000_000_000


def _counter_name(name: str) -> str:
    return name.removesuffix(_COUNTER_SUFFIX)


class ServiceMetrics:
    """The metrics of one function's service, each bound to its `function` label already,
    so a request costs a dict lookup and an increment, not a `.labels()` call."""

    def __init__(self, function: str, registry: CollectorRegistry) -> None:
        self.function = function
        self.requests_total = Counter(
            _counter_name(REQUESTS_TOTAL),
            "Function API requests answered, by HTTP status code",
            ("function", "code"),
            registry=registry,
        )
        # Pre-created so dashboards show 0, not "no data", before the first call.
        self.requests_by_code = {
            code: self.requests_total.labels(function, str(code)) for code in EXPECTED_CODES
        }
        self.request_duration, self.compute_duration = (
            Histogram(
                name, text, ("function",), buckets=HISTOGRAM_BUCKETS, registry=registry
            ).labels(function)
            for name, text in (
                (
                    REQUEST_DURATION,
                    "Time from the start of the handler to the response, function API requests",
                ),
                (COMPUTE_DURATION, "Time spent computing the function itself"),
            )
        )
        self.in_flight = Gauge(
            REQUESTS_IN_FLIGHT,
            "Function API requests being handled",
            ("function",),
            registry=registry,
        ).labels(function)
        rejected = Counter(
            _counter_name(REJECTED_TOTAL),
            "Requests and connections refused before any handler ran, by reason",
            ("function", "reason"),
            registry=registry,
        )
        self.rejected = {reason: rejected.labels(function, reason) for reason in REJECTION_REASONS}
        # When each bucket (the last one is +Inf) may take its next exemplar.
        self._exemplar_due = [0] * (len(HISTOGRAM_BUCKETS) + 1)
        self.invalid_traceparents = Counter(
            _counter_name(INVALID_TRACEPARENTS_TOTAL),
            "Function API calls whose traceparent header broke the W3C rules (a new trace began)",
            ("function",),
            registry=registry,
        ).labels(function)

    def count_response(
        self, status: int, duration_seconds: float, trace_id: str | None = None
    ) -> None:
        """One function API call answered with `status` after `duration_seconds`; with its
        `trace_id`, the observation carries it as an exemplar (OpenMetrics exposition)."""
        counter = self.requests_by_code.get(status)
        if counter is None:
            counter = self.requests_total.labels(self.function, str(status))
        counter.inc()
        if trace_id is not None:
            # The bucket prometheus-client counts it in: the first bound >= the duration.
            bucket = bisect_left(HISTOGRAM_BUCKETS, duration_seconds)
            now = time.monotonic_ns()
            if now >= self._exemplar_due[bucket]:
                self._exemplar_due[bucket] = now + EXEMPLAR_INTERVAL_NS
                self.request_duration.observe(duration_seconds, {EXEMPLAR_TRACE_LABEL: trace_id})
                return
        self.request_duration.observe(duration_seconds)
