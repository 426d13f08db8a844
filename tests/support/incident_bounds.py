"""How late an incident drill's alert may fire, from Prometheus' own rules of evaluation
(tests/lab/test_incident_local.py, tests/live/test_incident_docker.py).

prometheus/prometheus v2.42.0: a target is scraped once per `scrape_interval`, and a scrape
that gets no answer fails after `scrape_timeout`, which defaults to the interval when the
interval is shorter than 10 s (config/config.go, GlobalConfig.UnmarshalYAML); the rules are
evaluated once per `evaluation_interval` (rules/manager.go, Group.run); an alert is pending at
the first evaluation whose expression returns it and fires at the first evaluation at least
`for` later (rules/alerting.go, AlertingRule.Eval).
"""

from __future__ import annotations

# The drills' rates are over a window (promql.REPLICA_WINDOW, 20 s); the bad calls must be
# the mean's half of it before the mean (or share) crosses its threshold.
RATE_SHARE_SECONDS = 10
# app/faults.py grows the ballast 4 MB every 0.25 s up to 90 % of a 256 MB limit: some 14 s
# from nothing, of which the first 80 % of the limit (the alert) takes less than 10 s past
# the process' own resident memory.
MEMORY_GROWTH_SECONDS = 10


def detection_bound(
    drill,
    *,
    scrape_interval: float,
    scrape_timeout: float,
    evaluation_interval: float,
    durations: dict[str, float],
) -> float:
    """The worst case of a drill's time to firing: the next scrape (one interval, plus its
    timeout when the target does not answer), the next evaluation, the rule's
    `for`, and for a rate over a window the share of the window the bad calls need."""
    window = RATE_SHARE_SECONDS if drill.fault in ("slow", "errors") else 0
    growth = MEMORY_GROWTH_SECONDS if drill.fault == "memory" else 0
    return (
        scrape_interval
        + scrape_timeout
        + evaluation_interval
        + max(durations[alert] for alert in drill.alerts)
        + window
        + growth
    )
