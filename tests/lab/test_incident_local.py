"""Every drill that runs under `make local`, on a real LocalLab with a real Prometheus and the
lab's rules: it starts, its alerts fire within the bound, status reports them, stop clears
them, and the lab answers the contract's sample calls exactly as before (no toggle left)."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from app.contract import FUNCTIONS, SAMPLE_CALLS, sample_path
from dashboards.prometheus_rules import alerts, seconds
from lab import incident
from lab.incident_catalogue import DRILLS
from lab.incident_targets import LocalTargets
from lab.local import MANIFEST, LocalLab
from lab.support import wait_until
from tests.support import incident_bounds
from tests.support.drill_times import DrillTime, record

pytestmark = [pytest.mark.slow]
LOCAL_DRILLS = [drill for drill in DRILLS if drill.local]
SCRAPE_INTERVAL = "5s"  # make local's default


def detection_bound(drill) -> float:
    # make local's Prometheus evaluates at the scrape interval, and a scrape times out after
    # the interval when it is under Prometheus' default timeout of 10 s.
    interval = seconds(SCRAPE_INTERVAL)
    durations = {alert.name: seconds(alert.duration) for alert in alerts()}
    return incident_bounds.detection_bound(
        drill,
        scrape_interval=interval,
        scrape_timeout=interval,
        evaluation_interval=interval,
        durations=durations,
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory, prometheus_binary):
    with LocalLab(
        replicas=2,
        with_prometheus=True,
        scrape_interval=SCRAPE_INTERVAL,
        workdir=tmp_path_factory.mktemp("local"),
    ) as running:
        running.wait_for_targets(timeout=60)
        yield running


def exact_answers(api_url: str) -> bool:
    for function in FUNCTIONS:
        with urllib.request.urlopen(api_url + sample_path(function), timeout=5) as response:
            if json.load(response)["result"] != SAMPLE_CALLS[function][1]:
                return False
    return True


@pytest.mark.parametrize("drill", LOCAL_DRILLS, ids=lambda d: d.name)
def test_the_drill_is_detected_in_time_and_stop_restores_the_lab(lab, drill, tmp_path):
    targets = LocalTargets(lab.workdir / MANIFEST)
    state = tmp_path / "state.json"
    active = incident.start(drill.name, targets, state=state)
    try:
        assert json.loads(state.read_text())["drill"] == drill.name
        fired = {}

        def all_fired() -> bool:
            fired.update(incident.detected(drill, active, targets.prometheus_url))
            return set(drill.alerts) <= set(fired)

        bound = detection_bound(drill)
        wait_until(all_fired, timeout=bound + 15, interval=0.5, what=f"{drill.alerts}")
        for alert, after in fired.items():
            assert 0 < after <= bound, f"{alert} fired {after:.1f} s after the start"
        slowest = max(fired[alert] for alert in drill.alerts)
        record(DrillTime("make local", drill.name, ", ".join(drill.alerts), slowest, bound))
        report = "\n".join(incident.describe(active, targets))
        assert all(f"{alert}: fired after" in report for alert in drill.alerts), report
    finally:
        incident.stop(targets, state=state)
    assert not state.exists()
    assert all(targets.running(target) for target in active.targets)
    # No toggle left: the replicas' fault gauges are back at 0 and the answers exact.
    wait_until(lambda: exact_answers(lab.api_url), timeout=30, what="exact sample answers")
    wait_until(
        lambda: not incident.detected(drill, active, targets.prometheus_url),
        timeout=90,
        interval=1,
        what=f"{drill.alerts} to clear",
    )


def test_a_second_drill_an_unknown_one_and_a_stop_with_nothing_on_are_refused(lab, tmp_path):
    targets = LocalTargets(lab.workdir / MANIFEST)
    state = tmp_path / "state.json"
    with pytest.raises(incident.LabError, match="no drill named 'slow'"):
        incident.start("slow", targets, state=state)
    with pytest.raises(incident.LabError, match="no drill is on"):
        incident.stop(targets, state=state)
    with pytest.raises(incident.LabError, match="log-stall does not run on make local"):
        incident.start("log-stall", targets, state=state)
    assert not state.exists()
    incident.start("slow-replica", targets, state=state, with_traffic=False)
    try:
        before = state.read_text()
        with pytest.raises(incident.LabError, match="slow-replica is on since"):
            incident.start("error-burst", targets, state=state)
        assert state.read_text() == before
    finally:
        incident.stop(targets, state=state)


def test_a_crash_half_way_is_undone_by_the_next_stop(lab, tmp_path):
    """The state is written before the first step: a start that dies after halting one part
    (here: killed before its traffic started) leaves enough for stop to restore everything."""
    targets = LocalTargets(lab.workdir / MANIFEST)
    state = tmp_path / "state.json"
    replicas = targets.replicas("fibonacci")
    incident.Active("function-down", "local", replicas, time.time()).save(state)
    targets.halt(replicas[0])  # the crash came before the second replica was halted
    # The kernel stops the process when the signal is delivered, a moment after kill().
    wait_until(lambda: not targets.running(replicas[0]), timeout=5, what="the halted replica")
    incident.stop(targets, state=state)
    assert all(targets.running(replica) for replica in replicas)
    wait_until(lambda: exact_answers(lab.api_url), timeout=30, what="exact sample answers")
