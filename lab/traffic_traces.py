"""The end of `make traffic`: the slowest call of each function, its W3C trace id, and where
its log lines are (the Kibana search of that trace when the stack runs, make local's log files
that hold it), docs/tracing.md."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from app.contract import FUNCTIONS
from dashboards import kibana_links
from lab import automation
from lab.status import stack_outputs
from lab.support import LOCAL_LOGS_DIR, LOCAL_WORKDIR
from stack.settings import SettingsError

if TYPE_CHECKING:
    from lab.traffic import Outcome, Results

# Where `make local` writes each process's log.
LOCAL_LOGS = LOCAL_WORKDIR / LOCAL_LOGS_DIR
# The Kibana link of a slow call covers this much time on either side of it.
LINK_MARGIN = timedelta(minutes=1)


def slowest_calls(results: Results) -> dict[str, Outcome]:
    """Per function, its slowest answered call that carries a trace id."""
    slowest: dict[str, Outcome] = {}
    for outcome in results.outcomes:
        function = outcome.call.function
        if outcome.trace_id is None or function not in FUNCTIONS:
            continue
        if function not in slowest or outcome.seconds > slowest[function].seconds:
            slowest[function] = outcome
    return slowest


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def files_with(trace_id: str, logs: Path) -> list[Path]:
    """The log files under `logs` that hold a line of this trace (make local's processes)."""
    found = []
    for path in sorted(logs.glob("*.log")):
        try:
            if trace_id in path.read_text(errors="replace"):
                found.append(path)
        except OSError:
            continue
    return found


def trace_summary(
    results: Results, *, kibana_url: str | None = None, logs: Path | None = None
) -> str:
    """The slowest call of each function: its trace id, and where its log lines are (the
    Kibana search of that trace, or make local's log files that hold it)."""
    slowest = slowest_calls(results)
    if not slowest:
        return ""
    lines = ["", "slowest call of each function (docs/tracing.md):"]
    for function in sorted(slowest, key=FUNCTIONS.index):
        outcome = slowest[function]
        lines.append(
            f"  {function}: {outcome.seconds * 1000:.2f} ms  GET {outcome.call.path[:60]}  "
            f"trace.id {outcome.trace_id}"
        )
        if kibana_url:
            moment = datetime.fromtimestamp(outcome.at, UTC)
            url = kibana_links.trace_url(
                kibana_url,
                outcome.trace_id,
                time_from=_iso(moment - LINK_MARGIN),
                time_to=_iso(moment + LINK_MARGIN),
            )
            lines.append(f"    Kibana: {url}")
        if logs is not None and logs.is_dir():
            for path in files_with(outcome.trace_id, logs):
                lines.append(f"    {path}")
    return "\n".join(lines)


def default_kibana_url() -> str | None:
    """Kibana as the deployed stack exports it ($LAB_KIBANA_URL first); None when no stack is
    up (e.g. `make local`), without the logs part, or with an invalid stack config."""
    if os.environ.get("LAB_KIBANA_URL"):
        return os.environ["LAB_KIBANA_URL"]
    try:
        urls, note = stack_outputs(automation.stack_settings())
    except SettingsError:
        return None
    # A note means the URLs were computed from settings, not read from a deployed stack.
    return urls.get("kibana") if note is None else None
