"""Alert events: what one Alertmanager webhook alert becomes in the lab's log store.

The one home of the alerts index and its fields: Logstash's HTTP input splits each notification
into one event per alert and moves these webhook fields to these names (stack/configs/
logstash_conf.py), the index template maps them, and Kibana's "Lab: alerts" search shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

ALERTS_INDEX_PREFIX = "lab-alerts-"
ALERTS_INDEX_PATTERN = ALERTS_INDEX_PREFIX + "*"
# The template that maps them (Logstash installs it).
TEMPLATE_NAME = "lab-alerts"

# Event field (dotted) -> (the field of one alert in Alertmanager's webhook payload, type).
# `lab.function` is the field the function's log lines carry, so one filter finds both.
ALERT_FIELDS: Mapping[str, tuple[tuple[str, ...], str]] = MappingProxyType(
    {
        "alert.name": (("labels", "alertname"), "keyword"),
        "alert.status": (("status",), "keyword"),
        "lab.function": (("labels", "function"), "keyword"),
        "alert.severity": (("labels", "severity"), "keyword"),
        "alert.starts_at": (("startsAt",), "date"),
        "alert.ends_at": (("endsAt",), "date"),
        "alert.summary": (("annotations", "summary"), "text"),
        "alert.fingerprint": (("fingerprint",), "keyword"),
    }
)
# Also in each event, from the notification as a whole.
EVENT_TIME_FIELD = "@timestamp"
EVENT_FIELD_TYPES: Mapping[str, str] = MappingProxyType(
    {EVENT_TIME_FIELD: "date", **{name: kind for name, (_, kind) in ALERT_FIELDS.items()}}
)
