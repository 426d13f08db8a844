"""make incident-bench's arithmetic and reading: the percentiles of its table against the
standard library's (statistics.quantiles, method="inclusive": the same linear interpolation
as numpy's default and R's type 7), its rows, and Alertmanager's notification counters read
in Alertmanager's exposition (prometheus/alertmanager v0.25.0 notify/notify.go)."""

from __future__ import annotations

import statistics

import pytest

from lab.incident_bench import HEADER, Run, delivered, percentile, table

SAMPLES = (
    [4.0],
    [3.0, 1.0],
    [10.0, 7.0, 4.0, 3.0, 2.0, 1.0],
    [12.5, 9.75, 11.0, 30.0, 10.25],
)


@pytest.mark.parametrize("values", SAMPLES, ids=len)
@pytest.mark.parametrize("q", [50, 95])
def test_percentiles_are_the_inclusive_linear_ones(values, q):
    if len(values) == 1:
        expected = values[0]  # statistics.quantiles needs two points; one run is its own
    else:
        expected = statistics.quantiles(values, n=100, method="inclusive")[q - 1]
    assert percentile(values, q) == pytest.approx(expected)


def test_numpys_documented_median():
    """numpy.percentile's docs: the 50th percentile of [[10, 7, 4], [3, 2, 1]] is 3.5."""
    assert percentile([10, 7, 4, 3, 2, 1], 50) == 3.5


def test_no_values_have_no_percentile():
    assert percentile([], 95) is None


def test_the_table_has_a_row_per_drill_and_alert_with_missing_runs_counted():
    runs = [
        Run("dead-replica", {"LabTargetDown": 8.0}, 13.0, 6.0),
        Run("dead-replica", {"LabTargetDown": 10.0}, None, 4.0),
        Run("dead-replica", {"LabTargetDown": None}, 15.0, 5.0),
        Run("slow-replica", {"LabReplicaSlow": 21.0}, None, 12.0),
    ]
    lines = table(runs).splitlines()
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    assert cells[0] == list(HEADER)
    assert set(lines[1]) <= {"|", "-"}
    assert cells[2] == [
        "dead-replica",
        "LabTargetDown",
        "3",
        "9.0 / 9.9 (1 missed)",
        "14.0 / 14.9 (1 missed)",
        "5.0 / 5.9",
    ]
    assert cells[3] == ["slow-replica", "LabReplicaSlow", "1", "21.0 / 21.0", "-", "12.0 / 12.0"]
    assert len(lines) == 4


# Alertmanager's /metrics as its Go client writes it: both counters for every integration.
ALERTMANAGER_METRICS = """\
# HELP alertmanager_notifications_failed_total The total number of failed notifications.
# TYPE alertmanager_notifications_failed_total counter
alertmanager_notifications_failed_total{integration="email"} 0
alertmanager_notifications_failed_total{integration="webhook"} 2
# HELP alertmanager_notifications_total The total number of attempted notifications.
# TYPE alertmanager_notifications_total counter
alertmanager_notifications_total{integration="email"} 4
alertmanager_notifications_total{integration="webhook"} 7
"""


def test_delivered_webhook_notifications_are_the_attempts_less_the_failures():
    assert delivered(ALERTMANAGER_METRICS) == 5
    assert delivered(ALERTMANAGER_METRICS, "email") == 4


def test_a_metrics_page_without_the_counter_says_nothing():
    assert delivered("# TYPE up gauge\nup 1\n") is None
