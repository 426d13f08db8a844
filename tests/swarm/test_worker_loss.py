"""Losing a worker: drained (its tasks move) or killed (the swarm notices, the tasks move, the
node comes back). Runs after the other swarm tests (file order), which want the tasks spread.
"""

from __future__ import annotations

import time

import pytest

from tests.support.swarm_cluster import wait_for
from tests.support.swarm_workers import busiest_worker, node_state
from tests.swarm.conftest import report
from tests.swarm.services import OVERLAY, REPLICAS, WEB, probe

pytestmark = [pytest.mark.live, pytest.mark.slow]


def test_draining_a_worker_moves_its_tasks_to_the_other_nodes(swarm, web):
    worker, counts = busiest_worker(swarm, WEB)
    assert counts.get(worker.name), counts
    started = time.monotonic()
    swarm.update_node(worker, availability="drain")
    try:
        tasks = swarm.wait_running(WEB, REPLICAS, avoid=[worker.name], timeout=60)
        seconds = time.monotonic() - started
        answers = probe(swarm.manager, f"tasks.{WEB}")
        assert {a["ip"] for a in answers if "answer" in a} == {
            t["addresses"][OVERLAY][0] for t in tasks
        }, answers
        report(
            f"drain {worker.name} ({counts[worker.name]} of {REPLICAS} tasks): all "
            f"{REPLICAS} running elsewhere after {seconds:.1f} s, on "
            f"{sorted(t['node'] for t in tasks)}"
        )
    finally:
        swarm.update_node(worker, availability="active")


def test_a_killed_worker_is_noticed_and_its_tasks_run_elsewhere(swarm, web):
    worker, counts = busiest_worker(swarm, WEB)
    assert counts.get(worker.name), counts
    started = time.monotonic()
    swarm.kill_node(worker)
    wait_for(f"{worker.name} down", lambda: node_state(swarm, worker) == "down", 60, interval=0.2)
    noticed = time.monotonic() - started
    swarm.wait_running(WEB, REPLICAS, avoid=[worker.name], timeout=60)
    rescheduled = time.monotonic() - started
    back = swarm.restart_node(worker)
    report(
        f"kill {worker.name} ({counts[worker.name]} tasks): down after {noticed:.1f} s, "
        f"tasks running elsewhere after {rescheduled:.1f} s; restarted and Ready in {back:.1f} s"
    )
