"""The rule file: valid for promtool, sharing its expressions with panels, and each alert
firing exactly when it should (promtool test rules, Debian's promtool)."""

import subprocess

import pytest
import yaml

from app.contract import FUNCTIONS
from dashboards import grafana_overview, prometheus_rules
from tests.dashboards import promql_walk
from tests.dashboards.alert_scenarios import SCENARIOS

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


# Who is woken up, decided here and not read from the rule file: `page` when calls fail or
# nothing can be reached, `ticket` when calls are still served (slow, refused, logs missing).
SEVERITY = {
    "LabHighErrorRatio": "page",
    "LabSlowCalls": "ticket",
    "LabTargetDown": "page",
    "LabTraefikDown": "page",
    "LabProbeFailed": "page",
    "LabTraefikErrorRatio": "page",
    "LabRequestsRejected": "ticket",
    "LabLogLinesMissing": "ticket",
    "LabReplicaSlow": "ticket",
    "LabReplicaErrors": "page",
    "LabReplicaMemoryHigh": "ticket",
}


def _expect(alert_name: str, eval_time: str, firing: list[dict[str, str]]) -> dict:
    alert = next(a for a in prometheus_rules.alerts(FUNCTIONS) if a.name == alert_name)
    expected = []
    for labels in firing:
        annotations = _annotations(alert, labels)
        # The notification names the guilty function or target, whatever the template says.
        for key in ("function", "instance"):
            if key in labels:
                text = annotations["summary"] + annotations["description"]
                assert labels[key] in text, (alert_name, key, annotations)
        expected.append(
            {
                "exp_labels": {"severity": SEVERITY[alert_name], **labels},
                "exp_annotations": annotations,
            }
        )
    return {"eval_time": eval_time, "alertname": alert_name, "exp_alerts": expected}


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
    assert set(SCENARIOS) == {a.name for a in prometheus_rules.alerts(FUNCTIONS)} == set(SEVERITY)


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
