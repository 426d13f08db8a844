"""Shared fixtures: what a test needs from the machine, and how its absence is reported.

On a laptop without Docker or Prometheus the tests that need them skip and say why. CI sets
LAB_REQUIRE_DOCKER=1, which turns every such skip into a failure: a test skipped in CI is a
test that did not run.
"""

import os
import shutil

import pytest

REQUIRED = os.environ.get("LAB_REQUIRE_DOCKER") == "1"


def pytest_addoption(parser):
    # Here, not in tests/infra/: pytest only calls this hook for the initial conftests.
    parser.addoption(
        "--lab-target",
        choices=("harness", "stack"),
        default="harness",
        help="harness: apply the program's declared containers for this session (make test); "
        "stack: check the stack `make up` brought up (make verify)",
    )


def missing(reason: str) -> None:
    """Skip on a developer machine, fail where the environment promises the tool (CI)."""
    if REQUIRED:
        pytest.fail(f"{reason} (LAB_REQUIRE_DOCKER=1 makes this a failure)", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{name} is not installed (Debian: see scripts/provision.sh)")
    return path


@pytest.fixture(scope="session")
def docker_client():
    """A Docker SDK client to a daemon that answers."""
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # any failure to reach the daemon means "no Docker here"
        missing(f"Docker is not available: {exc}")
    return client


@pytest.fixture(scope="session")
def standin_image(docker_client):
    """`standin_image(reference)`: the reference of a locally built image, or the test skips
    (fails in CI) saying how to build it."""
    import docker

    def require(reference: str) -> str:
        try:
            docker_client.images.get(reference)
        except docker.errors.ImageNotFound:
            missing(f"{reference} not built (scripts/build_images.sh)")
        return reference

    return require


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_binary("promtool")


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    return require_binary("prometheus")


@pytest.fixture(scope="session")
def wrk() -> str:
    return require_binary("wrk")


@pytest.fixture(scope="session")
def lab(request, docker_client):
    """The running lab (tests/support/live_lab.py): one per session, for live and infra tests."""
    from tests.support.live_lab import open_lab

    yield from open_lab(request.config.getoption("--lab-target"), docker_client)


def pytest_terminal_summary(terminalreporter):
    """The incident drills' time-to-detect table, when drill tests ran (tests/support/
    drill_times.py)."""
    from tests.support import drill_times

    if drill_times.ROWS:
        terminalreporter.section("incident drills: time to detect")
        for line in drill_times.table():
            terminalreporter.write_line(line)
