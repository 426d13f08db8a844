"""The session-end verdict on what live tests left behind, shared by the harness and swarm suites.

A leftover fails the run (a test that leaks containers would break the next one) and the
verdict is written to the terminal either way, so a CI log shows the check ran.
"""

from __future__ import annotations

import pytest


def report_leftovers(session: pytest.Session, what: str, left: list, clean: str) -> None:
    """Fail the session when `left` names anything; print `what: ...` in red or green."""
    if left:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        message = f"{what}: left behind {left}"
    else:
        message = f"{what}: {clean}"
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(message, red=bool(left), green=not left)
