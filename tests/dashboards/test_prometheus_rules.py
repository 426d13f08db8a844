"""The rule file: valid for promtool, sharing its expressions with panels, and each alert
firing exactly when it should (promtool test rules, Debian's promtool)."""

import subprocess

import pytest
import yaml

from app.contract import FUNCTIONS
from dashboards import grafana_overview, prometheus_rules, promql
from tests.dashboards import promql_walk, replica_scenarios

ALERT_NAMES = {
    "LabHighErrorRatio",
    "LabSlowCalls",
    "LabTargetDown",
    "LabTraefikDown",
    "LabProbeFailed",
    "LabTraefikErrorRatio",
    "LabRequestsRejected",
    "LabLogLinesMissing",
    "LabReplicaSlow",
    "LabReplicaErrors",
    "LabReplicaMemoryHigh",
}


def run_promtool(promtool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def rule_path(tmp_path):
    path = tmp_path / "lab-rules.yml"
    path.write_text(prometheus_rules.render(FUNCTIONS))
    return path


def test_rule_file_passes_promtool_check(promtool, rule_path):
    result = run_promtool(promtool, "check", "rules", str(rule_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERT_NAMES)} rules found" in result.stdout


def test_every_dashboard_expression_parses(promtool, tmp_path):
    """promtool parses each panel query (variables substituted) as a recording rule."""
    model = grafana_overview.build(FUNCTIONS)
    recorded = [
        {"record": f"lab:panel_{i}", "expr": promql_walk.grafana_interpolate(e, FUNCTIONS, "1m")}
        for i, (_, e) in enumerate(promql_walk.dashboard_expressions(model))
    ]
    assert len(recorded) >= 30
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": recorded}]}))
    result = run_promtool(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_a_panel_expression():
    """Each alert's query is, character for character, a dashboard query with "All" selected."""
    panel_exprs = {
        promql_walk.grafana_interpolate(expr, FUNCTIONS, prometheus_rules.WINDOW): where
        for where, expr in promql_walk.dashboard_expressions(grafana_overview.build(FUNCTIONS))
    }
    names = set()
    for name, expr in promql_walk.rule_expressions(prometheus_rules.render(FUNCTIONS)):
        names.add(name)
        query, _, _ = promql_walk.split_alert(expr)
        assert query in panel_exprs, f"{name}: no panel draws {query}"
    assert names == ALERT_NAMES


def _annotations(alert: prometheus_rules.Alert, labels: dict[str, str]) -> dict[str, str]:
    """The alert's annotations as Prometheus renders them for these labels."""
    rendered = {}
    for key, template in (("summary", alert.summary), ("description", alert.description)):
        for label, value in labels.items():
            template = template.replace(f"{{{{ $labels.{label} }}}}", value)
        assert "{{" not in template, template
        rendered[key] = template
    return rendered


def _expect(alert_name: str, eval_time: str, firing: list[dict[str, str]]) -> dict:
    alert = next(a for a in prometheus_rules.alerts(FUNCTIONS) if a.name == alert_name)
    return {
        "eval_time": eval_time,
        "alertname": alert_name,
        "exp_alerts": [
            {
                "exp_labels": {"severity": alert.severity, **labels},
                "exp_annotations": _annotations(alert, labels),
            }
            for labels in firing
        ],
    }


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


def _samples(expected: float | str | None) -> list[dict]:
    """promql_expr_test's samples: a number is one label-less value, a series selector one
    sample of value 1 with those labels, None no sample at all."""
    if expected is None:
        return []
    if isinstance(expected, str):
        return [{"labels": expected, "value": 1}]
    return [{"labels": "{}", "value": expected}]


@pytest.mark.parametrize("alert_name", sorted(SCENARIOS))
def test_alert_fires_when_it_should_and_not_before(promtool, rule_path, tmp_path, alert_name):
    scenario = SCENARIOS[alert_name]
    unit_tests = {
        "rule_files": [str(rule_path)],
        "evaluation_interval": scenario.get("interval", "1m"),
        "tests": [
            {
                "interval": scenario.get("interval", "1m"),
                "input_series": scenario["input_series"],
                "alert_rule_test": [
                    _expect(alert_name, when, firing) for when, firing in scenario["checks"]
                ],
            }
        ],
    }
    expr_checks = [
        {"expr": expr, "eval_time": when, "exp_samples": _samples(expected)}
        for when, expr, expected in scenario.get("expr_checks", [])
    ]
    if expr_checks:
        unit_tests["tests"][0]["promql_expr_test"] = expr_checks
    test_path = tmp_path / f"{alert_name}.test.yml"
    test_path.write_text(yaml.safe_dump(unit_tests, sort_keys=False))
    result = run_promtool(promtool, "test", "rules", str(test_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_scenario():
    assert set(SCENARIOS) == {a.name for a in prometheus_rules.alerts(FUNCTIONS)}


def test_for_durations_are_settable_and_traefik_down_is_never_the_slowest():
    rules = yaml.safe_load(
        prometheus_rules.render(FUNCTIONS, {"LabProbeFailed": "10s", "LabTraefikDown": "2s"})
    )["groups"][0]["rules"]
    durations = {rule["alert"]: rule["for"] for rule in rules}
    assert durations["LabProbeFailed"] == "10s"
    assert durations["LabTraefikDown"] == "2s"
    with pytest.raises(ValueError, match="LabTraefikDown's for: 2m is longer"):
        prometheus_rules.alerts(FUNCTIONS, {"LabTraefikDown": "2m"})
    with pytest.raises(ValueError, match="no such alert"):
        prometheus_rules.alerts(FUNCTIONS, {"LabNoSuch": "1m"})
