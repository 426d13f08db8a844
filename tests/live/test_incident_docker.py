"""Issue 21's drills on the Docker lab (the harness-applied stack): `dead-replica`,
`function-down`, `traefik-down` and `slow-replica`, one after another, each started and
stopped through lab/incident.py with DockerTargets.

For each: its alert fires in the lab's Prometheus within the bound Prometheus' rules of
evaluation give (tests/support/incident_bounds.py, from the running Prometheus' own config and
rules), its notification names the alert and the function at a webhook receiver in Logstash's
place (tests/support/alerting_lab.py) within Alertmanager's grouping delay of the firing, and
stop restores every container: running, healthy, the sample calls exact, no fault left on.

The rules' `for`s and Alertmanager's group_wait are the lab's defaults (what the drills
measure). Only group_interval is shortened: dead-replica and function-down fire the same group
(LabTargetDown, fibonacci), and Alertmanager sends an alert that joins a group it has already
flushed at the group's next group_interval tick (prometheus/alertmanager v0.25.0
dispatch/dispatch.go, aggrGroup.insert and run), 5 minutes after the first with the defaults.

A drill the running lab cannot do (log-stall: this lab has no Logstash) is refused in one line
and changes nothing, and make incident-bench leaves it out.
"""

from __future__ import annotations

import calendar
import json
import time

import pytest
import requests
import yaml

from app.contract import FUNCTIONS, SAMPLE_CALLS, sample_path
from dashboards.prometheus_rules import seconds
from lab import incident, incident_bench
from lab.incident_catalogue import BY_NAME, FUNCTION
from lab.incident_targets import DockerTargets
from lab.support import LabError, wait_until
from stack.settings_tables import ALERTMANAGER_SUB_PATH
from tests.support import drill_times
from tests.support.alerting_lab import AlertingLab
from tests.support.drill_times import DrillTime
from tests.support.incident_bounds import detection_bound
from tests.support.live_lab import LiveLab
from tests.support.reference import reference_result

pytestmark = [pytest.mark.live, pytest.mark.slow]

DRILLS = ("dead-replica", "function-down", "traefik-down", "slow-replica")
# Alertmanager's group_interval for this module: no longer than the default group_wait, so a
# drill that joins the previous drill's group is sent no later than a new group would be.
ALERT_TIMING = {"group_interval": "5s"}
# A webhook's HTTP round trip and Prometheus' send queue (it posts at the evaluation that fires).
DELIVERY_SLACK_SECONDS = 2


def docker_targets(lab: LiveLab) -> DockerTargets:
    urls = {key.removesuffix("_url"): url for key, url in lab.settings.urls().items()}
    targets = DockerTargets(lab.client, lab.project, lab.stack, urls)
    # The harness stack's secrets are the test's, not a Pulumi stack's: sign in as declared.
    targets.prometheus_auth = lab.monitoring_login
    return targets


@pytest.fixture(scope="module")
def harness_lab(lab: LiveLab) -> LiveLab:
    if lab.harness is None:
        pytest.skip("drills only run on the harness-applied stack, never on a user's stack")
    return lab


@pytest.fixture(scope="module")
def alerting(harness_lab: LiveLab):
    alerting = AlertingLab(harness_lab, alert_timing=ALERT_TIMING)
    try:
        alerting.start()
        yield alerting
    finally:
        alerting.restore()


def states(lab: LiveLab) -> dict[str, tuple]:
    """Each declared container's id, status and health, as the daemon tells them."""
    found = {}
    for name in lab.containers:
        state = lab.client.api.inspect_container(name)
        found[name] = (state["Id"], state["State"]["Status"], state["State"].get("Health", {}))
    return {name: (i, s, h.get("Status")) for name, (i, s, h) in found.items()}


def test_a_drill_the_lab_cannot_do_is_refused_in_one_line_and_changes_nothing(
    harness_lab: LiveLab, tmp_path
):
    targets = docker_targets(harness_lab)
    state = tmp_path / "state.json"
    before = states(harness_lab)
    with pytest.raises(LabError) as refused:
        incident.start("log-stall", targets, state=state)
    assert "log-stall" in str(refused.value)
    assert "logstash" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert not state.exists()
    assert states(harness_lab) == before
    # make incident-bench runs what the lab supports: the Docker drills, but not this one.
    runnable = {drill.name for drill in incident_bench.supported(targets)}
    assert set(DRILLS) <= runnable
    assert "log-stall" not in runnable


def prometheus_timing(url: str, auth: tuple[str, str]) -> dict[str, float]:
    """The running Prometheus' scrape and evaluation timing and every alerting rule's `for`."""
    config = requests.get(url + "/api/v1/status/config", auth=auth, timeout=5)
    config = config.json()["data"]["yaml"]
    timing = {
        key: seconds(value)
        for key, value in yaml.safe_load(config)["global"].items()
        if key in ("scrape_interval", "scrape_timeout", "evaluation_interval")
    }
    groups = requests.get(url + "/api/v1/rules", auth=auth, timeout=5).json()["data"]["groups"]
    durations = {
        rule["name"]: float(rule["duration"])
        for group in groups
        for rule in group["rules"]
        if rule["type"] == "alerting"
    }
    return {**timing, "durations": durations}


def alertmanager_route(alerting: AlertingLab) -> dict:
    url = alerting.lab.url("alertmanager") + ALERTMANAGER_SUB_PATH + "/api/v2/status"
    answer = requests.get(url, auth=alerting.lab.monitoring_login, timeout=5)
    return yaml.safe_load(answer.json()["config"]["original"])["route"]


def exact_answers(api_url: str) -> bool:
    for function in FUNCTIONS:
        answer = requests.get(api_url + sample_path(function), timeout=5)
        arguments, _ = SAMPLE_CALLS[function]
        if answer.status_code != 200:
            return False
        if answer.json()["result"] != str(reference_result(function, arguments)):
            return False
    return True


def firing_since(alerting: AlertingLab, drill, started: float) -> float | None:
    """When (unix time) Prometheus' API first showed the drill's alerts all firing."""
    names = {
        a["labels"]["alertname"]
        for a in incident.firing(alerting.lab.url("prometheus"), alerting.lab.monitoring_login)
        if incident.names_the_drill(a, drill)
    }
    return time.time() if set(drill.alerts) <= names else None


def notification(alerting: AlertingLab, since: int, drill, started: float) -> dict | None:
    """The first firing notification after record `since` carrying one of the drill's alerts,
    begun after the drill started."""
    for record in alerting.received()[since:]:
        body = record["body"]
        for alert in body["alerts"]:
            # RFC 3339 in UTC, to the nanosecond: the second is enough here.
            begun = calendar.timegm(time.strptime(alert["startsAt"][:19], "%Y-%m-%dT%H:%M:%S"))
            if (
                alert["status"] == "firing"
                and alert["labels"]["alertname"] in drill.alerts
                and begun >= int(started) - 1
            ):
                return record
    return None


@pytest.mark.parametrize("name", DRILLS)
def test_the_drill_is_detected_notified_and_undone(alerting: AlertingLab, name: str, tmp_path):
    lab = alerting.lab
    drill = BY_NAME[name]
    targets = docker_targets(lab)
    prometheus = prometheus_timing(lab.url("prometheus"), lab.monitoring_login)
    route = alertmanager_route(alerting)
    wait_until(
        lambda: not incident.firing(lab.url("prometheus"), lab.monitoring_login),
        timeout=120,
        interval=1,
        what="no alert firing before the drill",
    )
    before = states(lab)
    since = len(alerting.received())
    state = tmp_path / "state.json"
    active = incident.start(name, targets, state=state)
    applied = time.time()
    fired: list[float] = []
    found: list[dict] = []
    try:
        assert json.loads(state.read_text())["drill"] == name
        bound = detection_bound(
            drill,
            scrape_interval=prometheus["scrape_interval"],
            scrape_timeout=prometheus["scrape_timeout"],
            evaluation_interval=prometheus["evaluation_interval"],
            durations=prometheus["durations"],
        ) + (applied - active.started)  # stopping a container takes its drain
        wait_until(
            lambda: fired.append(firing_since(alerting, drill, active.started)) or fired[-1],
            timeout=bound + 30,
            interval=0.25,
            what=f"{drill.alerts} firing",
        )
        to_fire = fired[-1] - active.started
        delay = max(seconds(route["group_wait"]), seconds(route["group_interval"]))
        wait_until(
            lambda: found.append(notification(alerting, since, drill, active.started)) or found[-1],
            timeout=delay + 60,
            interval=0.25,
            what=f"the notification of {drill.alerts}",
        )
        record = found[-1]
        to_notify = record["received"] - active.started
        report = "\n".join(incident.describe(active, targets))
    finally:
        incident.stop(targets, state=state)
    print(
        f"\n{name}: fired {to_fire:.1f} s after the start (bound {bound:.1f} s), notified"
        f" {to_notify:.1f} s after it; {', '.join(active.targets)} stopped in"
        f" {applied - active.started:.1f} s"
    )
    alerts = ", ".join(drill.alerts)
    drill_times.record(DrillTime("docker", name, alerts, to_fire, bound, to_notify))
    assert to_fire <= bound
    assert record["received"] - fired[-1] <= delay + prometheus["evaluation_interval"] + (
        DELIVERY_SLACK_SECONDS
    )
    body = record["body"]
    assert body["commonLabels"]["alertname"] in drill.alerts
    if drill.target in ("replica", "function"):
        assert body["commonLabels"]["function"] == FUNCTION
    assert all(f"{alert}: fired after" in report for alert in drill.alerts), report

    # Restored: the same containers, running and healthy again, answering exactly, no fault on.
    assert not state.exists()
    wait_until(lambda: states(lab) == before, timeout=90, interval=1, what="every part healthy")
    wait_until(lambda: exact_answers(lab.url("api")), timeout=30, what="exact sample answers")
    # The replica cleared its faults at once; Prometheus sees it at its next scrape.
    wait_until(
        lambda: not alerting.query("lab_drill_fault_active == 1"),
        timeout=3 * prometheus["scrape_interval"],
        interval=0.5,
        what="no drill fault left on",
    )
