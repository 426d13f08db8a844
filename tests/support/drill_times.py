"""The incident drills' time-to-detect table of a test session: each drill test records what it
measured, and tests/conftest.py prints the table at the end of the run (issue 21: the drills run
in CI with their table printed)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DrillTime:
    lab: str  # "make local" or "docker"
    drill: str
    alerts: str
    fired: float  # seconds from the drill's start to its alerts firing
    bound: float  # the bound the test held it to
    notified: float | None = None  # seconds from the start to the notification (Docker lab)


ROWS: list[DrillTime] = []


def record(row: DrillTime) -> None:
    ROWS.append(row)


def table() -> list[str]:
    lines = [
        "lab        drill            alerts                 fired (s)  bound (s)  notified (s)"
    ]
    for row in ROWS:
        notified = "" if row.notified is None else f"{row.notified:.1f}"
        lines.append(
            f"{row.lab:<10} {row.drill:<16} {row.alerts:<22} {row.fired:>9.1f}  "
            f"{row.bound:>9.1f}  {notified:>12}"
        )
    return lines
