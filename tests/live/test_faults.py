"""Faults on the harness-applied stack (last in the session; loopback only, bounded in time).

- A replica's main process stops (SIGTERM) under steady load: no client request fails (Traefik
  retries and health checks) and the restart policy brings the same container back. A crash
  (SIGKILL) loses at most the request the replica held.
- Prometheus is replaced by a new container: samples scraped before are still there (volume).
- Traefik restarts: requests succeed again within a few seconds; the suite prints how many.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import pytest
import requests

from tests.support.live_lab import LiveLab

pytestmark = [pytest.mark.live, pytest.mark.slow]
FUNCTIONS = ("fibonacci", "factorial", "ackermann")
PATHS = {
    "fibonacci": "/fibonacci/30/",
    "factorial": "/factorial/30/",
    "ackermann": "/ackermann/2/2/",
}


@pytest.fixture
def harness_lab(lab: LiveLab) -> LiveLab:
    if lab.harness is None:
        pytest.skip("faults only run on the harness-applied stack, never on a user's stack")
    return lab


class SteadyLoad:
    """Threads calling every function through Traefik until stopped; every outcome counted."""

    def __init__(self, base_url: str, threads: int = 3, pause: float = 0.01):
        self.base_url, self.pause = base_url, pause
        self.outcomes: Counter[str] = Counter()
        self.failures: list[str] = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        with requests.Session() as session:
            while not self.stopping.is_set():
                for function in FUNCTIONS:
                    try:
                        response = session.get(self.base_url + PATHS[function], timeout=10)
                        outcome = str(response.status_code)
                        ok = response.status_code == 200 and response.json()["result"]
                    except (requests.RequestException, ValueError) as exc:
                        outcome, ok = type(exc).__name__, False
                    with self.lock:
                        self.outcomes[outcome] += 1
                        if not ok:
                            detail = response.text[:80] if outcome.isdigit() else ""
                            self.failures.append(f"{function}: {outcome} {detail}")
                    time.sleep(self.pause)

    def __enter__(self) -> SteadyLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=15)


def wait_until(predicate, timeout: float, interval: float = 0.25) -> float:
    """Seconds until predicate() held; TimeoutError after `timeout`."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not true after {timeout} s: {predicate.__doc__}")
        time.sleep(interval)
    return time.monotonic() - started


def fail_one_replica_per_function(lab: LiveLab, signum: int, load_threads: int = 3):
    """Signal the main process of one replica per function, one after the other, under load.

    The signal goes from the host to the container's main process: the process exits by itself
    and the restart policy brings the same container back (`docker stop` would mark it stopped
    by hand, and Docker would leave it down). One replica at a time: replicas restarting
    together can swap IP addresses, and a request already on its way to the old address lands
    on another function (which answers 404, never a wrong result).
    """
    api = lab.client.api
    victims = [lab.replicas(function)[0] for function in FUNCTIONS]
    before = {name: api.inspect_container(name) for name in victims}
    recovered_after = {}
    with SteadyLoad(lab.url("api"), threads=load_threads) as load:
        time.sleep(1)
        for name in victims:
            os.kill(before[name]["State"]["Pid"], signum)

            def restarted_and_healthy(name=name):
                """the replica restarted by Docker and healthy again"""
                state = api.inspect_container(name)
                return (
                    state["RestartCount"] > before[name]["RestartCount"]
                    and state["State"]["Running"]
                    and state["State"]["Health"]["Status"] == "healthy"
                )

            recovered_after[name] = round(wait_until(restarted_and_healthy, timeout=60), 1)
            time.sleep(2.5)  # one Traefik health-check interval: the replica is back in rotation
    for name in victims:
        after = api.inspect_container(name)
        assert after["Id"] == before[name]["Id"], f"{name} was recreated, not restarted"
        assert after["State"]["Pid"] != before[name]["State"]["Pid"], name
    return load, recovered_after


def test_a_stopped_replica_of_each_function_costs_no_request_and_comes_back(harness_lab):
    # SIGTERM: the service stops accepting, drains what it holds, exits; Docker restarts it.
    load, recovered_after = fail_one_replica_per_function(harness_lab, signal.SIGTERM)
    print(
        f"\nreplica stops: healthy again after {recovered_after} s; requests {dict(load.outcomes)}"
    )
    assert load.failures == [], f"{len(load.failures)} failed requests: {load.failures[:10]}"
    assert load.outcomes["200"] > 100, load.outcomes


def test_a_crashed_replica_loses_at_most_the_requests_it_held(harness_lab):
    # SIGKILL: a request the replica was computing dies with it, and Traefik does not resend a
    # request whose connection broke after it was written. Everything else must succeed: with
    # 8 client threads (issue 14; one thread could never lose more than one call per crash),
    # at most the 8 calls in flight can be on the killed replica when it dies.
    threads = 8
    load, recovered_after = fail_one_replica_per_function(
        harness_lab, signal.SIGKILL, load_threads=threads
    )
    print(
        f"\nreplica crashes under {threads} threads: healthy again after {recovered_after} s; "
        f"failed {len(load.failures)} over {len(FUNCTIONS)} crashes "
        f"({len(load.failures) / len(FUNCTIONS):.1f} per crash); requests {dict(load.outcomes)}"
    )
    assert len(load.failures) <= threads * len(FUNCTIONS), load.failures
    assert all(" 502 " in failure for failure in load.failures), load.failures
    assert load.outcomes["200"] > 100, load.outcomes


def test_prometheus_samples_survive_a_new_container(harness_lab):
    lab, harness, api = harness_lab, harness_lab.harness, harness_lab.client.api
    name = lab.the_container("prometheus")
    # A range of samples (issue 14: one sample proved little), read at a fixed instant.
    query = 'count_over_time(up{job="traefik"}[5m])'

    def scraped():
        """Prometheus holds at least 3 traefik samples"""
        values = lab.query(query, time.time())
        return values and float(values[0]["value"][1]) >= 3

    wait_until(scraped, timeout=60, interval=1)
    checked_at = time.time()
    before = lab.query(query, checked_at)
    # Crash it (SIGKILL, no clean shutdown), then replace the container as `pulumi up` does on
    # a change: only the volume's WAL and blocks carry the samples over.
    old_id = api.inspect_container(name)["Id"]
    api.kill(name, signal="SIGKILL")
    api.wait(name, timeout=30)
    api.remove_container(name)
    new_id = harness.create_container(lab.containers[name])
    api.start(new_id)
    harness.wait_healthy({name: lab.containers[name]}, timeout=90)
    assert new_id != old_id
    after = lab.query(query, checked_at)
    print(f"\nprometheus SIGKILLed and replaced: samples before {before}, after {after}")
    assert after == before, f"before {before}, after {after}"


def test_traefik_answers_again_within_seconds_of_a_restart(harness_lab):
    lab, api = harness_lab, harness_lab.client.api
    name = lab.the_container("traefik")
    url = lab.url("api") + PATHS["fibonacci"]
    assert requests.get(url, timeout=5).status_code == 200
    restart_done: list[float] = []
    restarter = threading.Thread(
        target=lambda: (api.restart(name, timeout=10), restart_done.append(time.monotonic()))
    )
    probes: list[tuple[float, bool]] = []  # (time, answered 200)
    started = time.monotonic()
    restarter.start()
    while time.monotonic() - started < 40:
        try:
            ok = requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            ok = False
        probes.append((time.monotonic(), ok))
        if restart_done and ok:
            break
        time.sleep(0.1)
    restarter.join(timeout=30)
    assert restart_done, "docker restart did not return"
    assert probes[-1][1], "Traefik did not answer again within 40 s"
    failed = [at for at, ok in probes if not ok]
    outage = (probes[-1][0] - failed[0]) if failed else 0.0
    after_start = probes[-1][0] - restart_done[0]
    print(
        f"\ntraefik restart: stop+start took {restart_done[0] - started:.1f} s; clients saw "
        f"{outage:.1f} s of failures ({len(failed)} of {len(probes)} requests); first success "
        f"{after_start:.2f} s after the container was started again"
    )
    assert after_start < 5, f"{after_start:.1f} s from start to the first answer"
    assert outage < 15, f"{outage:.1f} s without answers"
