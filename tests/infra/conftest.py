"""testinfra hosts for the running lab: each declared container (docker backend) and this host.

The lab itself comes from the session fixture `lab` (tests/conftest.py): the harness-applied
`livetest` stack under `make test`, or the user's `make up` stack under `make verify`.
"""

from __future__ import annotations

import pytest
import testinfra

from tests.live.fixtures import LiveLab


@pytest.fixture(scope="session")
def container_host(lab: LiveLab):
    """`container_host(name)`: a testinfra host that runs commands in that container."""
    hosts = {}

    def host_for(name: str):
        assert name in lab.containers, f"{name} is not declared by the program"
        if name not in hosts:
            hosts[name] = testinfra.get_host(f"docker://{name}")
        return hosts[name]

    return host_for


@pytest.fixture(scope="session")
def local_host():
    return testinfra.get_host("local://")


@pytest.fixture
def require_part(lab: LiveLab):
    """Select checks by the parts the target stack runs (its declared containers)."""

    def require(part: str) -> None:
        if part not in lab.parts:
            pytest.skip(f"{part} is not enabled in stack {lab.stack} (parts: {sorted(lab.parts)})")

    return require
