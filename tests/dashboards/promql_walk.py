"""Find every PromQL expression in rendered dashboards and rule files, and make it queryable.

The proofs walk the rendered artefacts rather than a list kept by hand, so a panel or alert
added later is checked without anyone remembering to add it.
"""

import re
from collections.abc import Iterator, Sequence

import yaml

# A rule is `(<query>) <comparison> <number>` (dashboards/prometheus_rules.py, Alert.expr).
COMPARISON = re.compile(r"^\((?P<query>.*)\) (?P<op>==|!=|>=|<=|>|<) (?P<threshold>[-+.\deE]+)$")


def dashboard_expressions(model: dict) -> Iterator[tuple[str, str]]:
    """(where, expr) for every `expr` anywhere in a dashboard model.

    `where` is "row / panel [refId]": panels of different rows share titles.
    """

    def walk(node: object, where: str) -> Iterator[tuple[str, str]]:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                yield f"{where} [{node.get('refId', '?')}]", node["expr"]
            for value in node.values():
                yield from walk(value, where)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value, where)

    row = model.get("title", "dashboard")
    for panel in model.get("panels", []):
        if panel.get("type") == "row":
            row = panel.get("title", row)
        yield from walk(panel, f"{row} / {panel.get('title', '?')}")
    # Anything outside the panels (annotations, templating) that holds an expression.
    rest = {k: v for k, v in model.items() if k != "panels"}
    yield from walk(rest, row)


def rule_expressions(rule_file: str) -> Iterator[tuple[str, str]]:
    """(rule name, expr) for every rule of a Prometheus rule file."""
    for group in yaml.safe_load(rule_file)["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule["record"], rule["expr"]


def split_alert(expr: str) -> tuple[str, str, str]:
    """(query, comparison, threshold) of an alert expression."""
    match = COMPARISON.match(expr)
    assert match, f"alert expression is not `(query) op number`: {expr}"
    return match["query"], match["op"], match["threshold"]


def as_bool(expr: str) -> str:
    """An alert condition that returns 0/1 for every series instead of only firing ones."""
    query, op, threshold = split_alert(expr)
    return f"({query}) {op} bool {threshold}"


def grafana_interpolate(expr: str, functions: Sequence[str], rate_interval: str) -> str:
    """Substitute the dashboard's variables as Grafana does with "All" functions selected.

    A multi-value variable in a Prometheus regex matcher becomes `(a|b|c)`; `$1` in a
    label_replace stays, because Grafana leaves unknown variables alone.
    """
    everything = "(" + "|".join(functions) + ")"
    substitutions = {
        "${function}": everything,
        "$function": everything,
        "$__rate_interval": rate_interval,
        "$__interval": rate_interval,
        "$__range": rate_interval,
    }
    for variable in sorted(substitutions, key=len, reverse=True):
        expr = expr.replace(variable, substitutions[variable])
    leftover = re.findall(r"\$(?!\d)\{?\w+", expr)
    assert not leftover, f"unsubstituted variables {leftover} in {expr}"
    return expr
