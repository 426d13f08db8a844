"""The incident drills' faults (app/faults.py) in a real `python -m app` process, switched by
real signals as `kill` and `docker kill --signal` send them: slow calls, 500s, memory that
grows towards the limit, and one signal that clears them all."""

from __future__ import annotations

import json
import time

from prometheus_client.parser import text_string_to_metric_families

from app.faults import FAULT_SIGNALS, FAULTS_OFF, Faults, memory_limit_bytes, resident_bytes
from lab.support import wait_until
from tests.app.test_server import get, service_process


def samples(base: str) -> dict[tuple[str, tuple], float]:
    _, text = get(base + "/metrics")
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def fault_on(base: str, fault: str) -> bool:
    key = ("lab_drill_fault_active", (("fault", fault), ("function", "fibonacci")))
    return samples(base).get(key) == 1


def timed_call(base: str) -> tuple[int, float]:
    started = time.monotonic()
    status, _ = get(base + "/fibonacci/10/")
    return status, time.monotonic() - started


def test_slow_then_off_holds_each_call_200_ms_and_the_off_signal_restores_it():
    with service_process(LAB_FUNCTION="fibonacci") as (process, port):
        base = f"http://127.0.0.1:{port}"
        assert not fault_on(base, "slow")
        process.send_signal(FAULT_SIGNALS["slow"])
        wait_until(lambda: fault_on(base, "slow"))
        status, took = timed_call(base)
        assert status == 200
        assert took >= 0.2
        process.send_signal(FAULTS_OFF)
        wait_until(lambda: not fault_on(base, "slow"))
        # fib(10) answers in well under a millisecond; the 200 ms are gone.
        assert timed_call(base)[1] < 0.2
        process.terminate()
        stdout, _ = process.communicate(timeout=15)
    actions = [json.loads(line).get("event", {}).get("action") for line in stdout.splitlines()]
    assert "drill-fault-on" in actions
    assert "drill-fault-off" in actions


def test_errors_answer_a_share_of_calls_with_a_json_500_and_off_stops_them():
    with service_process(LAB_FUNCTION="fibonacci") as (process, port):
        base = f"http://127.0.0.1:{port}"
        process.send_signal(FAULT_SIGNALS["errors"])
        wait_until(lambda: fault_on(base, "errors"))
        answers = [get(base + "/fibonacci/10/") for _ in range(60)]
        statuses = [status for status, _ in answers]
        # Half the calls on average: 60 calls all one way has a chance of 2 * 2**-60.
        assert set(statuses) == {200, 500}
        failed = next(body for status, body in answers if status == 500)
        assert json.loads(failed)["error"]["status"] == 500
        process.send_signal(FAULTS_OFF)
        wait_until(lambda: not fault_on(base, "errors"))
        assert {get(base + "/fibonacci/10/")[0] for _ in range(20)} == {200}


def test_memory_grows_towards_the_limit_and_is_released_by_off():
    limit_mb = 160
    with service_process(LAB_FUNCTION="fibonacci", LAB_MEMORY_LIMIT_MB=str(limit_mb)) as (
        process,
        port,
    ):
        base = f"http://127.0.0.1:{port}"
        key = ("process_resident_memory_bytes", ())
        limit_key = ("lab_memory_limit_bytes", (("function", "fibonacci"),))
        before = samples(base)[key]
        assert samples(base)[limit_key] == limit_mb * 1024 * 1024
        process.send_signal(FAULT_SIGNALS["memory"])
        # proc(5) resident memory, as the process collector reads it: past 80 % of the limit
        # (the drill's alert threshold), and never at the limit itself.
        wait_until(lambda: samples(base)[key] > 0.8 * limit_mb * 1024 * 1024, timeout=30)
        assert samples(base)[key] < limit_mb * 1024 * 1024
        assert samples(base)[key] > before
        process.send_signal(FAULTS_OFF)
        wait_until(lambda: not fault_on(base, "memory"))


def test_the_memory_limit_is_the_tightest_of_the_cgroup_and_the_variable(tmp_path):
    v2 = tmp_path / "memory.max"
    v2.write_text("max\n")
    assert memory_limit_bytes({}, (v2,)) is None
    assert memory_limit_bytes({"LAB_MEMORY_LIMIT_MB": "64"}, (v2,)) == 64 * 1024 * 1024
    v2.write_text("33554432\n")
    assert memory_limit_bytes({"LAB_MEMORY_LIMIT_MB": "64"}, (v2,)) == 33554432
    # cgroup v1 reports "no limit" as a number near 2**63 (page-rounded LONG_MAX).
    v1 = tmp_path / "memory.limit_in_bytes"
    v1.write_text("9223372036854771712\n")
    assert memory_limit_bytes({}, (tmp_path / "absent", v1)) is None


def test_memory_fault_without_a_limit_stays_off():
    from prometheus_client import CollectorRegistry

    faults = Faults("fibonacci", CollectorRegistry(), limit_bytes=None)
    faults.switch_on("memory")
    assert not faults.memory_on
    assert not faults.grow()


def test_resident_bytes_agrees_with_the_process_collector():
    """proc(5): statm's resident pages and stat's rss field describe the same set."""
    from prometheus_client import CollectorRegistry, ProcessCollector

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    collected = registry.get_sample_value("process_resident_memory_bytes")
    assert abs(resident_bytes() - collected) < 0.1 * collected
