"""Session-end check for CI: the harness left no container, network or volume behind.

Runs after every fixture's teardown (pytest_sessionfinish), so it sees what the `lab` fixture's
finalizer really removed; anything left turns the session red.
"""

from __future__ import annotations

from tests.support import live_lab
from tests.support.cleanup_report import report_leftovers
from tests.support.harness import HARNESS_LABEL, leftovers

# The numbers the live suite measured, printed at the end of the run (also without -s).
NUMBERS: list[str] = []


def report(line: str) -> None:
    NUMBERS.append(line)
    print(line)


def pytest_terminal_summary(terminalreporter):
    if NUMBERS:
        terminalreporter.section("live numbers")
        for line in NUMBERS:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session, exitstatus):
    if not live_lab.HARNESS_RUNS:
        return  # no harness stack was applied in this session
    import docker

    client = docker.from_env()
    left = []
    for run_id in live_lab.HARNESS_RUNS:
        left += leftovers(client, f"{HARNESS_LABEL}={run_id}")
    left += leftovers(client, f"lab.stack={live_lab.HARNESS_STACK}")
    report_leftovers(
        session,
        "harness cleanup",
        sorted(set(left)),
        f"nothing left with labels of runs {live_lab.HARNESS_RUNS}",
    )
