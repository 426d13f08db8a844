"""stack/configs/logstash_alerts.py: what its filter makes of a webhook notification, and that
the shape check the live and Alertmanager tests run on real payloads can fail."""

from __future__ import annotations

import pytest

from stack.configs import logstash_alerts
from tests.support.alert_pipeline import AlertFilter, check_payloads, template_types, type_problems

# Go's zero time: what Alertmanager sends as a firing alert's endsAt (types/types.go, v0.28.1).
NOT_ENDED = "0001-01-01T00:00:00Z"


def notification(status: str, ends_at: str = NOT_ENDED, **labels: str) -> dict:
    """A webhook payload with one alert, in the shape notify/webhook/webhook.go sends."""
    return {
        "receiver": "lab-webhook",
        "status": status,
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "LabTargetDown", "severity": "page", **labels},
                "annotations": {"summary": "fibonacci-1:8080 of fibonacci is down"},
                "startsAt": "2026-11-29T01:02:03.123456789Z",
                "endsAt": ends_at,
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": "836e6744ffc4f07d",
            }
        ],
        "groupLabels": {"alertname": "LabTargetDown", **labels},
        "version": "4",
    }


def test_a_firing_alert_has_no_end_and_a_resolved_one_keeps_it():
    pipeline = AlertFilter.rendered()
    (firing,) = pipeline.events(notification("firing", function="fibonacci"))
    assert "ends_at" not in firing["alert"], firing
    assert firing["lab"]["function"] == "fibonacci"
    (resolved,) = pipeline.events(
        notification("resolved", "2026-11-29T01:05:00Z", function="fibonacci")
    )
    assert resolved["alert"]["ends_at"] == "2026-11-29T01:05:00Z"
    assert set(resolved) == {"@timestamp", "alert", "lab", "tags"}
    check_payloads([notification("firing", function="x")], lab_wide_alerts=set())


def test_without_the_firing_rule_the_year_one_end_would_be_stored():
    """Proves the check above can fail: the filter without its conditional removal."""
    text = logstash_alerts.filter_block()
    start = text.index("    if [alert][status]")
    without = AlertFilter.rendered(text[:start] + text[text.index("    prune {") :])
    (event,) = without.events(notification("firing", function="fibonacci"))
    assert event["alert"]["ends_at"] == NOT_ENDED


def test_a_field_the_payload_lacks_is_reported():
    text = logstash_alerts.filter_block().replace("[labels][severity]", "[labels][team]")
    missing = AlertFilter.rendered(text).missing_sources(notification("firing", function="f"))
    assert missing == [(0, "labels.team")]


def test_only_a_lab_wide_alert_may_lack_the_function():
    check_payloads([notification("firing")], lab_wide_alerts={"LabTargetDown"})
    with pytest.raises(AssertionError):
        check_payloads([notification("firing")], lab_wide_alerts=set())


@pytest.mark.parametrize(
    ("field", "value"),
    [("alert.starts_at", "29/11/2026"), ("alert.name", 3), ("alert.unknown", "x")],
)
def test_a_value_the_template_would_not_take_is_reported(field, value):
    group, name = field.split(".")
    assert type_problems({group: {name: value}}, template_types())
