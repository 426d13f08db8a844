"""What a healthy local lab cannot give data for is proved on synthetic series instead:
promtool test rules (tests/dashboards/test_prometheus_rules.py SCENARIOS)."""

from app.contract import FUNCTIONS
from dashboards import grafana_overview, prometheus_rules
from tests.dashboards import promql_walk
from tests.dashboards.proved_elsewhere import proved_elsewhere
from tests.dashboards.test_prometheus_rules import SCENARIOS

ALL_DASHBOARD_EXPRESSIONS = list(
    promql_walk.dashboard_expressions(grafana_overview.build(FUNCTIONS))
)
ALL_RULE_EXPRESSIONS = list(promql_walk.rule_expressions(prometheus_rules.render(FUNCTIONS)))


def test_what_cannot_have_data_here_is_proved_by_promtool():
    """Each expression left out above is an alert with a promtool scenario, or a panel query
    that a scenario evaluates on synthetic series (promql_expr_test)."""
    left_out = [(w, e) for w, e in ALL_DASHBOARD_EXPRESSIONS if proved_elsewhere(e)]
    left_out += [(n, e) for n, e in ALL_RULE_EXPRESSIONS if proved_elsewhere(e)]
    assert left_out, "nothing is left out: drop PROVED_ELSEWHERE"
    checked = {expr for s in SCENARIOS.values() for _, expr, _ in s.get("expr_checks", [])}
    alerts = {a.name: a for a in prometheus_rules.alerts(FUNCTIONS)}
    checked |= {alerts[name].query for name in SCENARIOS}
    for where, expr in left_out:
        if where in alerts:
            assert where in SCENARIOS, f"{where}: no promtool scenario"
            continue
        query = promql_walk.grafana_interpolate(expr, FUNCTIONS, prometheus_rules.WINDOW)
        assert query in checked or expr in checked, f"{where}: {expr} is proved nowhere"
