"""One promtool scenario per alert of dashboards/prometheus_rules.py, one sample a minute (the
per-replica alerts' in replica_scenarios.py, every 5 s). Each says when the condition starts to
hold, checks that nothing fires while the alert's `for` runs, then that it fires for the guilty
series only. test_prometheus_rules.py runs them."""

from dashboards import promql
from tests.dashboards import replica_scenarios


def _buckets(service: str, per_bucket: dict[str, str]) -> list[dict]:
    metric = "traefik_service_request_duration_seconds_bucket"
    return [
        {"series": f'{metric}{{service="{service}",le="{le}"}}', "values": values}
        for le, values in per_bucket.items()
    ]


_CALL = (
    'job="probe-calls",instance="http://traefik:8000/fibonacci/10/",'
    'part="fibonacci",function="fibonacci"'
)
_REJECTED = "lab_rejected_requests_total"
_HEALTH = 'job="probe-parts",instance="http://grafana:3000/grafana/api/health",part="grafana"'


# One scenario per alert, one sample a minute. Each says when the condition starts to hold,
# checks that nothing fires while the alert's `for` runs, then that it fires for the guilty
# series only.
SCENARIOS = {
    **replica_scenarios.SCENARIOS,
    "LabHighErrorRatio": {
        # fibonacci starts failing 0.1/s of 1.1/s (9%) at minute 11; factorial answers many
        # 400s (clients' fault) and no 5xx. Above 5% from about minute 13, for 5m.
        "input_series": [
            {"series": 'lab_requests_total{function="fibonacci",code="200"}', "values": "0+60x40"},
            {
                "series": 'lab_requests_total{function="fibonacci",code="500"}',
                "values": "0x10 6+6x30",
            },
            {"series": 'lab_requests_total{function="factorial",code="200"}', "values": "0+60x40"},
            {"series": 'lab_requests_total{function="factorial",code="400"}', "values": "0+30x40"},
            {"series": 'lab_requests_total{function="factorial",code="500"}', "values": "0x40"},
        ],
        "checks": [("10m", []), ("16m", []), ("22m", [{"function": "fibonacci"}])],
    },
    "LabSlowCalls": {
        # From minute 10 every fibonacci call lands in (0.25 s, 1 s]; factorial stays fast.
        "input_series": _buckets(
            "fibonacci@file",
            {
                "0.1": "0+60x10 600+0x30",
                "0.25": "0+60x10 600+0x30",
                "1": "0+60x40",
                "+Inf": "0+60x40",
            },
        )
        + _buckets(
            "factorial@file",
            {"0.1": "0+60x40", "0.25": "0+60x40", "1": "0+60x40", "+Inf": "0+60x40"},
        ),
        "checks": [("9m", []), ("18m", []), ("25m", [{"function": "fibonacci"}])],
    },
    "LabTargetDown": {
        # fibonacci-1 stops answering at minute 6; Prometheus' own job being down is not a
        # function target (and not this alert's business).
        "input_series": [
            {"series": 'up{job="fibonacci",instance="fibonacci-1:8080"}', "values": "1x5 0x20"},
            {"series": 'up{job="fibonacci",instance="fibonacci-2:8080"}', "values": "1x25"},
            {"series": 'up{job="prometheus",instance="prometheus:9090"}', "values": "0x25"},
            {"series": 'up{job="traefik",instance="traefik:8080"}', "values": "1x25"},
        ],
        "checks": [
            ("5m", []),
            ("6m", []),
            (
                "8m",
                [{"job": "fibonacci", "instance": "fibonacci-1:8080", "function": "fibonacci"}],
            ),
        ],
        # The overview's alert annotation: one ALERTS series while it fires, none before.
        "expr_checks": [
            ("6m", promql.firing_alerts(), None),
            (
                "8m",
                promql.firing_alerts(),
                'ALERTS{alertname="LabTargetDown",alertstate="firing",function="fibonacci",'
                'instance="fibonacci-1:8080",job="fibonacci",severity="page"}',
            ),
        ],
    },
    "LabProbeFailed": {
        # The sample call of fibonacci fails from minute 6; Grafana's health stays good.
        "input_series": [
            {"series": f"probe_success{{{_CALL}}}", "values": "1x5 0x10"},
            {"series": f"probe_success{{{_HEALTH}}}", "values": "1x15"},
        ],
        "checks": [
            ("5m", []),
            ("6m", []),
            (
                "8m",
                [
                    {
                        "job": "probe-calls",
                        "instance": "http://traefik:8000/fibonacci/10/",
                        "part": "fibonacci",
                        "function": "fibonacci",
                    }
                ],
            ),
        ],
    },
    "LabTraefikErrorRatio": {
        # Traefik answers 502 for 9% of fibonacci's calls from minute 11 (its replicas gone,
        # which the app's counter never sees); factorial's 400s are clients' mistakes.
        "input_series": [
            {
                "series": f'traefik_service_requests_total{{service="{s}@file",code="{c}"}}',
                "values": values,
            }
            for s, c, values in (
                ("fibonacci", "200", "0+60x40"),
                ("fibonacci", "502", "0x10 6+6x30"),
                ("factorial", "200", "0+60x40"),
                ("factorial", "400", "0+30x40"),
            )
        ],
        "checks": [
            ("10m", []),
            ("16m", []),
            ("22m", [{"function": "fibonacci", "service": "fibonacci@file"}]),
        ],
    },
    "LabRequestsRejected": {
        # fibonacci refuses 6 oversized bodies a minute from minute 6 (0.1/s); factorial one
        # slow header every 100 s, under the limit.
        "input_series": [
            {
                "series": f'{_REJECTED}{{function="fibonacci",reason="body_too_large"}}',
                "values": "0x5 6+6x20",
            },
            {
                "series": f'{_REJECTED}{{function="factorial",reason="header_timeout"}}',
                "values": "0+0.6x25",
            },
        ],
        "checks": [
            ("5m", []),
            ("12m", []),
            ("20m", [{"function": "fibonacci", "reason": "body_too_large"}]),
        ],
    },
    "LabLogLinesMissing": {
        # 600 calls a minute answered by the app and 600 through Traefik's entrypoint: 1,200
        # lines a minute expected. lab-logs indexes all of them until minute 14, then half;
        # Kibana's own index grows fast and must not count.
        "input_series": [
            {"series": 'lab_requests_total{function="fibonacci",code="200"}', "values": "0+600x40"},
            {
                "series": 'traefik_entrypoint_requests_total{entrypoint="web",code="200"}',
                "values": "0+600x40",
            },
            {
                "series": 'lab_rejected_requests_total{function="fibonacci",reason="bad_request"}',
                "values": "0x40",
            },
            {
                "series": 'elasticsearch_indices_docs_primary{index="lab-logs-2026.11.29"}',
                "values": "0+1200x14 17400+600x25",
            },
            {
                "series": 'elasticsearch_indices_docs_primary{index=".kibana_8.19.4_001"}',
                "values": "0+5000x40",
            },
        ],
        "checks": [("14m", []), ("18m", []), ("30m", [{}])],
        # The panel's three lines over the last 10 minutes at minute 30.
        "expr_checks": [
            ("30m", promql.log_lines_expected(promql.LOG_WINDOW), 12000),
            ("30m", promql.log_lines_indexed(promql.LOG_WINDOW), 6000),
            ("30m", promql.log_lines_missing(promql.LOG_WINDOW), 6000),
            ("14m", promql.log_lines_missing(promql.LOG_WINDOW), 0),
        ],
    },
    "LabTraefikDown": {
        "input_series": [
            {"series": 'up{job="traefik",instance="traefik:8080"}', "values": "1x3 0x10"},
            {"series": 'up{job="fibonacci",instance="fibonacci-1:8080"}', "values": "0x13"},
        ],
        "checks": [
            ("3m", []),
            ("4m", []),
            ("6m", [{"job": "traefik", "instance": "traefik:8080"}]),
        ],
    },
}
