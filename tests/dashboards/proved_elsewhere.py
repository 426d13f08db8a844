"""Expressions a healthy local lab cannot give data for, and why; test_real_data leaves them
out and test_proved_elsewhere checks that a promtool scenario proves each one instead."""

from dashboards import promql

# Marker in the expression -> why the local lab has no such series.
PROVED_ELSEWHERE = {
    # Firing alerts: none on a healthy lab, by design.
    "ALERTS{": "no alert fires on a healthy lab",
    # The elasticsearch exporter needs Elasticsearch, whose image cannot run here.
    promql.INDEXED_DOCS: "Elasticsearch and its exporter cannot run here",
}


def proved_elsewhere(expr: str) -> str | None:
    return next((why for marker, why in PROVED_ELSEWHERE.items() if marker in expr), None)
