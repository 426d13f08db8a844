"""testinfra hosts for the running lab: each declared container (docker backend) and this host.

The lab itself comes from the session fixture `lab` (tests/conftest.py): the harness-applied
`livetest` stack under `make test`, or the user's `make up` stack under `make verify`.
"""

from __future__ import annotations

import pytest
import testinfra

from tests.support.live_lab import LiveLab

DESELECTED = pytest.StashKey[tuple]()


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


def target_stack_parts(config: pytest.Config) -> tuple[str, set[str]]:
    """The target stack and the parts it declares, from the program run under mocks: the
    same capture the `lab` fixture applies (harness) or checks (a user's stack)."""
    from lab.automation import project_name
    from tests.support.declared import capture
    from tests.support.live_lab import target_stack

    project = project_name()
    # Host ports do not change which parts a stack declares.
    stack, settings = target_stack(config.getoption("--lab-target"), {})
    resources = capture(project, stack, settings)
    return stack, LiveLab(project, stack, settings, resources, None).parts


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Checks marked `parts(...)` run only against a stack that declares those parts. One the
    target stack does not declare is deselected (not skipped: it is not part of this run),
    and the terminal summary names each one and why."""
    marked = [item for item in items if item.get_closest_marker("parts")]
    if not marked:
        return
    stack, parts = target_stack_parts(config)
    dropped = []
    for item in marked:
        wanted = set(item.get_closest_marker("parts").args)
        if not wanted <= parts:
            dropped.append((item, sorted(wanted - parts)))
    if dropped:
        config.hook.pytest_deselected(items=[item for item, _ in dropped])
        gone = {item for item, _ in dropped}
        items[:] = [item for item in items if item not in gone]
        config.stash[DESELECTED] = (stack, sorted(parts), dropped)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    if DESELECTED not in config.stash:
        return
    stack, parts, dropped = config.stash[DESELECTED]
    terminalreporter.section("checks of parts this stack does not run")
    terminalreporter.write_line(
        f"stack {stack} declares {', '.join(parts)}; deselected (their checks run against "
        "documented-API stand-ins in tests/infra/test_checks.py):"
    )
    for item, missing in dropped:
        terminalreporter.write_line(f"  {item.nodeid}: needs {', '.join(missing)}")
