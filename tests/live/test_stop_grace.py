"""Stopping on purpose, on the harness-applied lab (issue 23, finding 4): a container stopped as
the provider stops it before a removal (`make down`, a replacement) with the declared
destroyGraceSeconds (tests/support/harness.py stop_as_provider, from
terraform-provider-docker v4.5.0 resourceDockerContainerDelete) ends cleanly:

- a function replica drains: a call already in flight is answered, the drain and stop lines
  are written, the process exits 0 (a 0 s timeout, the provider's default, is SIGKILL: exit
  137, the call cut off);
- Prometheus shuts down cleanly, exit 0 and its last line "See you next time!" (written only
  after every component, the TSDB last, has stopped: prometheus/prometheus v2.42
  cmd/prometheus/main.go), and the replacement on the same volume still has the sample
  scraped just before the stop.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from app.contract import APP_PORT, REQUESTS_IN_FLIGHT
from lab.support import free_port, wait_until
from tests.support.live_lab import LiveLab

pytestmark = [pytest.mark.live]
SLOW_CALL_MS = 6000  # longer than the replica's drain window: the in-flight wait is exercised


@pytest.fixture
def harness_lab(lab: LiveLab) -> LiveLab:
    if lab.harness is None:
        pytest.skip("stops only run on the harness-applied stack, never on a user's stack")
    return lab


def _in_flight(base: str) -> float:
    total = 0.0
    for line in requests.get(base + "/metrics", timeout=2).text.splitlines():
        if line.startswith(REQUESTS_IN_FLIGHT + "{") or line.startswith(REQUESTS_IN_FLIGHT + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_a_replica_stopped_with_its_grace_answers_the_call_in_flight_and_drains(harness_lab):
    lab, harness, api = harness_lab, harness_lab.harness, harness_lab.client.api
    declared = lab.containers[lab.replicas("fibonacci")[0]]
    port = free_port()
    # The declared replica, under another name and alias (out of Traefik's rotation), with a
    # published port to call it directly and every call held SLOW_CALL_MS (tests only).
    inputs = {
        **declared,
        "name": declared["name"] + "-stop",
        "envs": [*declared.get("envs", []), f"LAB_TEST_DELAY_MS={SLOW_CALL_MS}"],
        "networksAdvanced": [
            {**declared["networksAdvanced"][0], "aliases": [declared["name"] + "-stop"]}
        ],
        "ports": [{"internal": APP_PORT, "external": port, "ip": "127.0.0.1"}],
    }
    api.start(harness.create_container(inputs))
    try:
        harness.wait_healthy({inputs["name"]: inputs}, timeout=60)
        base = f"http://127.0.0.1:{port}"
        answers: list = []

        def call() -> None:
            try:
                answers.append(requests.get(base + "/fibonacci/10/", timeout=60))
            except requests.RequestException as exc:
                answers.append(exc)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        wait_until(lambda: _in_flight(base) >= 1, timeout=10, what="the call in flight")
        started = time.monotonic()
        state = harness.stop_as_provider(inputs)
        took = time.monotonic() - started
        caller.join(timeout=30)
        lines = [
            json.loads(line)
            for line in api.logs(inputs["name"]).decode().splitlines()
            if line.startswith("{")
        ]
    finally:
        harness.remove_as_provider(inputs)
    actions = {line.get("event", {}).get("action") or line.get("event.action") for line in lines}
    grace = inputs["destroyGraceSeconds"]
    print(f"\nreplica stop with grace {grace} s: {took:.1f} s, exit {state['ExitCode']}")
    (answer,) = answers
    assert not isinstance(answer, Exception), f"the call in flight was cut off: {answer!r}"
    assert answer.status_code == 200
    assert answer.json()["result"] == "55"  # fib(10)
    assert state["ExitCode"] == 0, state
    assert not state["OOMKilled"]
    assert took < inputs["destroyGraceSeconds"], f"{took:.1f} s: killed at the deadline"
    assert {"service-drain", "service-stop"} <= actions, actions


def test_prometheus_stopped_with_its_grace_keeps_its_last_sample_and_starts_clean(harness_lab):
    lab, harness, api = harness_lab, harness_lab.harness, harness_lab.client.api
    name = lab.the_container("prometheus")
    inputs = lab.containers[name]
    series = 'up{job="traefik"}'

    def scraped_twice() -> bool:
        found = lab.query(f"count_over_time({series}[5m])", time.time())
        return bool(found) and float(found[0]["value"][1]) >= 2

    wait_until(
        scraped_twice,
        timeout=60,
        interval=1,
        what="two traefik scrapes",
    )
    before = lab.query(f"timestamp({series})", time.time())
    last = float(before[0]["value"][1])  # the newest sample, seconds since the epoch
    state = harness.stop_as_provider(inputs)
    log = api.logs(name).decode(errors="replace")
    harness.remove_as_provider(inputs)
    api.start(harness.create_container(inputs))
    harness.wait_healthy({name: inputs}, timeout=90)
    after = lab.query(f"timestamp({series})", last)
    print(f"\nprometheus stop: exit {state['ExitCode']}; last sample {last}, after {after}")
    assert state["ExitCode"] == 0, state
    assert "See you next time!" in log, f"no clean shutdown:\n{log[-2000:]}"
    assert after, "the last sample before the stop is gone"
    assert float(after[0]["value"][1]) == last
