"""The declared health checks of Kibana, Grafana and Elasticsearch against stand-ins that
answer as the pinned versions do (tests/support/standins.py, FakeStatus), in each state.

What this shows: Kibana's check passes on a `degraded` Kibana (its status route answers 200),
fails only when Kibana's core is unavailable; Grafana's and Elasticsearch's fail when their
product reports failure.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.stack.captured import containers, declared_under
from tests.support.standins import start_status


def declared_check(part: str) -> list[str]:
    (container,) = (
        c for name, c in containers(declared_under("default")).items() if name.endswith(part)
    )
    return container["inputs"]["healthcheck"]["tests"]


def run(tests: list[str], base: str) -> int:
    command = [re.sub(r"https?://localhost:\d+", base, part) for part in tests[1:]]
    if any(part == "-u" or part.startswith("ELASTIC") for part in command):
        pytest.skip("check needs credentials the stand-in does not model")
    return subprocess.run(command, capture_output=True, timeout=20).returncode


@pytest.fixture
def status():
    servers = []

    def start(level):
        servers.append(start_status(level))
        return f"http://127.0.0.1:{servers[-1].server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("part", "level", "healthy"),
    [
        ("kibana", "available", True),
        ("kibana", "degraded", True),
        ("kibana", "unavailable", False),
        ("grafana", "available", True),
        ("grafana", "unavailable", False),
        ("elasticsearch", "degraded", True),
        ("elasticsearch", "critical", False),
    ],
)
def test_declared_check_in_each_state(status, part, level, healthy):
    assert (run(declared_check(part), status(level)) == 0) is healthy
