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
from tests.support.capture import MOCK_SECRETS
from tests.support.standins import start_status


def declared_container(part: str) -> dict:
    (container,) = (
        c for name, c in containers(declared_under("default")).items() if name.endswith(part)
    )
    return container


def declared_check(part: str) -> list[str]:
    return declared_container(part)["inputs"]["healthcheck"]["tests"]


def run(tests: list[str], base: str, files: dict[str, str] | None = None) -> int:
    """The check's command against `base`; `files` maps container paths it reads (curl's -K
    config) to local copies holding the declared upload's content."""
    command = [re.sub(r"https?://localhost:\d+", base, part) for part in tests[1:]]
    command = [(files or {}).get(part, part) for part in command]
    return subprocess.run(command, capture_output=True, timeout=20).returncode


def uploaded_files(part: str, tmp_path) -> dict[str, str]:
    local = {}
    for number, item in enumerate(declared_container(part)["inputs"].get("uploads") or ()):
        copy = tmp_path / f"upload-{number}"
        copy.write_text(item["content"])
        local[item["file"]] = str(copy)
    return local


@pytest.fixture
def status():
    servers = []

    def start(level, login=None):
        servers.append(start_status(level, login))
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
def test_declared_check_in_each_state(status, part, level, healthy, tmp_path):
    monitor = MOCK_SECRETS["lab:monitorPassword"]
    login = f"lab_health:{monitor}" if part == "elasticsearch" else None
    files = uploaded_files(part, tmp_path)
    assert (run(declared_check(part), status(level, login), files) == 0) is healthy


def test_elasticsearch_check_fails_with_another_password(status, tmp_path):
    """Security on: the check signs in with the declared monitoring password, or fails."""
    base = status("available", "lab_health:another-password")
    assert run(declared_check("elasticsearch"), base, uploaded_files("elasticsearch", tmp_path))
