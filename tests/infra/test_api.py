"""The request path end to end: client -> Traefik -> every replica, and Prometheus scraping it all.

Expected results come from the textbook reference implementations of tests/support/reference.py
(written independently of app/), so a wrong answer in the service cannot agree with itself.
"""

from __future__ import annotations

import json
import math
import time

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support.live_lab import LiveLab
from tests.support.reference import ackermann, fibonacci

pytestmark = pytest.mark.live
FUNCTIONS = ("fibonacci", "factorial", "ackermann")
APP_PORT = 8080


VALID = [
    ("fibonacci", (0,), fibonacci(0)),
    ("fibonacci", (10,), fibonacci(10)),
    ("fibonacci", (400,), fibonacci(400)),
    ("factorial", (0,), math.factorial(0)),
    ("factorial", (10,), math.factorial(10)),
    ("factorial", (400,), math.factorial(400)),
    ("ackermann", (0, 0), ackermann(0, 0)),
    ("ackermann", (2, 2), ackermann(2, 2)),
    ("ackermann", (3, 4), ackermann(3, 4)),
]
INVALID = [
    "/fibonacci/401/",
    "/fibonacci/-1/",
    "/fibonacci/ten/",
    "/fibonacci/1.5/",
    "/factorial/401/",
    "/factorial/-3/",
    "/factorial/x/",
    "/ackermann/4/0/",
    "/ackermann/3/5/",
    "/ackermann/-1/2/",
    "/ackermann/a/b/",
]


@pytest.mark.parametrize(
    ("function", "args", "expected"),
    VALID,
    ids=[f"{f}-{'-'.join(map(str, a))}" for f, a, _ in VALID],
)
def test_every_function_answers_exactly_through_traefik(lab: LiveLab, function, args, expected):
    path = f"/{function}/" + "".join(f"{arg}/" for arg in args)
    response = requests.get(lab.url("api") + path, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"function": function, "args": list(args), "result": str(expected)}


@pytest.mark.parametrize("path", INVALID)
def test_invalid_input_is_a_400_with_a_json_reason(lab: LiveLab, path):
    response = requests.get(lab.url("api") + path, timeout=10)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["status"] == 400
    assert error["message"]
    assert error["argument"] in ("n", "m")


def replica_counts(lab: LiveLab, container_host, function: str) -> dict[str, float]:
    """Each replica's own lab_requests_total for the function, read inside its container."""
    probe = (
        "import urllib.request;"
        f"print(urllib.request.urlopen('http://127.0.0.1:{APP_PORT}/metrics').read().decode())"
    )
    counts = {}
    for name in lab.replicas(function):
        text = container_host(name).check_output(f"python -c {json.dumps(probe)}")
        counts[name] = sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "lab_requests_total" and sample.labels["function"] == function
        )
    return counts


@pytest.mark.parametrize("function", FUNCTIONS)
def test_traefik_spreads_load_over_every_replica(lab: LiveLab, container_host, function):
    replicas = lab.replicas(function)
    assert len(replicas) >= 2, f"{function}: needs two replicas to show balancing: {replicas}"
    before = replica_counts(lab, container_host, function)
    path = {"ackermann": "/ackermann/2/3/"}.get(function, f"/{function}/20/")
    with requests.Session() as session:
        for _ in range(12 * len(replicas)):
            assert session.get(lab.url("api") + path, timeout=10).status_code == 200
    after = replica_counts(lab, container_host, function)
    moved = {name: after[name] - before[name] for name in replicas}
    assert all(delta > 0 for delta in moved.values()), f"{function}: {moved}"
    assert sum(moved.values()) >= 12 * len(replicas), moved


def function_targets(lab: LiveLab) -> set[tuple[str, str]]:
    """(job, instance) per replica as the contract names them: `fibonacci-1:8080`, ..."""
    targets = set()
    for function in FUNCTIONS:
        for name in lab.replicas(function):
            aliases = lab.containers[name]["networksAdvanced"][0]["aliases"]
            targets |= {(function, f"{alias}:{APP_PORT}") for alias in aliases}
    return targets


def declared_jobs(lab: LiveLab) -> set[str]:
    """The scrape jobs of the Prometheus config the program uploads (functions, Traefik, itself,
    and whatever else the stack declares)."""
    inputs = lab.containers[lab.the_container("prometheus")]
    (config,) = [u["content"] for u in inputs["uploads"] if u["file"].endswith("prometheus.yml")]
    return {job["job_name"] for job in yaml.safe_load(config)["scrape_configs"]}


@pytest.mark.parts("prometheus")
def test_prometheus_has_every_target_up(lab: LiveLab):
    expected = function_targets(lab)
    deadline = time.monotonic() + 60
    while True:
        response = requests.get(
            lab.url("prometheus") + "/api/v1/targets", auth=lab.monitoring_login, timeout=10
        )
        active = response.json()["data"]["activeTargets"]
        health = {(t["labels"]["job"], t["labels"]["instance"]): t["health"] for t in active}
        if all(state == "up" for state in health.values()) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert {job for job, _ in health} == declared_jobs(lab), health
    assert {t for t in health if t[0] in FUNCTIONS} == expected, health
    assert all(state == "up" for state in health.values()), health
