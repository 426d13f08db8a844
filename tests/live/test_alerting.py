"""Issue 12's parts on the live harness, applied from the program's declaration: node-exporter
reads this host, the probes see every function answer right, Prometheus found Alertmanager.
The faults that make alerts reach the webhook are in test_alert_delivery.py."""

from __future__ import annotations

import urllib.parse
import urllib.request

import requests

from app.contract import FUNCTIONS
from lab.support import wait_until
from tests.support.live_lab import LiveLab


def _query(lab: LiveLab, expr: str) -> list[dict]:
    url = lab.url("prometheus") + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    answer = requests.get(url, auth=lab.monitoring_login, timeout=5)
    answer.raise_for_status()
    return answer.json()["data"]["result"]


def _value(lab: LiveLab, expr: str) -> float | None:
    result = _query(lab, expr)
    return float(result[0]["value"][1]) if result else None


def _host_cpus() -> int:
    with open("/proc/stat") as stat:
        return sum(1 for line in stat if line.startswith("cpu") and line[3].isdigit())


def _host_memory_bytes() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def test_node_exporter_reports_this_host(lab: LiveLab):
    cpus = 'count(node_cpu_seconds_total{job="node",mode="idle"})'
    wait_until(lambda: _value(lab, cpus) is not None, timeout=60, what="node-exporter scraped")
    assert _value(lab, cpus) == _host_cpus()
    assert _value(lab, 'node_memory_MemTotal_bytes{job="node"}') == _host_memory_bytes()


def test_every_function_probe_succeeds_and_alertmanager_is_found(lab: LiveLab):
    calls = 'probe_success{job="probe-calls"}'

    def all_up() -> bool:
        result = _query(lab, calls)
        return {r["metric"]["function"] for r in result if r["value"][1] == "1"} == set(FUNCTIONS)

    wait_until(all_up, timeout=60, interval=1, what="every call probe succeeds")
    found = "prometheus_notifications_alertmanagers_discovered"
    wait_until(lambda: _value(lab, found) == 1, timeout=60, interval=1, what="Alertmanager")
