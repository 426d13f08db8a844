"""`make incident-bench`: how fast the running lab notices each incident drill.

Every drill the running lab supports (lab/incident_catalogue.py), one after another, RUNS times
each, through lab/incident.py's start and stop (and its state file, so `make incident-stop`
restores the lab if the bench dies). For each run: the seconds from the start to each of the
drill's alerts firing, as seen by polling Prometheus' /api/v1/alerts every 0.25 s; on the
Docker lab, to the notification, seen as Alertmanager's
`alertmanager_notifications_total{integration="webhook"}` going up; and from the stop to the
alerts no longer firing. Then a table of the p50 and p95 of the runs.

    python -m lab.incident_bench [--runs 5] [--drill NAME ...]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import yaml
from prometheus_client.parser import text_string_to_metric_families

from dashboards.prometheus_rules import seconds
from lab import incident
from lab.incident_catalogue import DRILLS, Drill
from lab.support import LabError, basic_auth_header, get_json

RUNS = 5
POLL_SECONDS = 0.25
# The longest a run waits for its alerts (and, on the Docker lab, the notification), and for
# them to clear after the stop, before it records the figure as missing and goes on.
FIRE_TIMEOUT_SECONDS = 120.0
CLEAR_TIMEOUT_SECONDS = 120.0
NOTIFICATIONS = "alertmanager_notifications"
WEBHOOK = "webhook"


@dataclass
class Run:
    """One run of one drill: seconds to each alert firing, to the notification, to clear."""

    drill: str
    fired: dict[str, float | None]
    notified: float | None
    cleared: float | None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile by linear interpolation between the closest ranks (numpy's default,
    `method="linear"`); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def delivered(metrics_text: str, integration: str = WEBHOOK) -> float | None:
    """Notifications Alertmanager delivered through `integration`: its attempted ones less its
    failed ones (prometheus/alertmanager v0.25.0 notify/notify.go: notifications_total counts
    every attempt, notifications_failed_total the failures, both by `integration`)."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.labels.get("integration") == integration:
                totals[sample.name] = sample.value
    attempted = totals.get(NOTIFICATIONS + "_total")
    if attempted is None:
        return None
    return attempted - totals.get(NOTIFICATIONS + "_failed_total", 0.0)


def webhook_notifications(
    alertmanager_url: str | None, auth: tuple[str, str] | None = None
) -> float | None:
    """What `delivered` says of the running Alertmanager's /metrics, or None without one."""
    if alertmanager_url is None:
        return None
    request = urllib.request.Request(alertmanager_url + "/metrics", headers=basic_auth_header(auth))
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return delivered(response.read().decode())
    except OSError:
        return None


def supported(lab) -> list[Drill]:
    """The drills this lab can run (lab/incident.py refuses the others)."""
    found = []
    for drill in DRILLS:
        try:
            incident.targets_of(drill, lab)
        except LabError:
            continue
        found.append(drill)
    return found


def _poll(condition: Callable[[], bool], timeout: float, clock=time.monotonic) -> bool:
    deadline = clock() + timeout
    while clock() < deadline:
        if condition():
            return True
        time.sleep(POLL_SECONDS)
    return False


def firing_of(drill: Drill, lab) -> set[str]:
    return {
        alert["labels"]["alertname"]
        for alert in incident.firing(lab.prometheus_url, lab.prometheus_auth)
        if incident.names_the_drill(alert, drill)
    }


def evaluation_interval(prometheus_url: str, auth: tuple[str, str] | None = None) -> float:
    """The running Prometheus' rule evaluation interval, from its loaded config."""
    answer = get_json(prometheus_url + "/api/v1/status/config", auth=auth) or {}
    config = yaml.safe_load(answer.get("data", {}).get("yaml") or "{}") or {}
    return seconds(config.get("global", {}).get("evaluation_interval", "1m"))


def run_once(drill: Drill, lab, *, state=incident.STATE_FILE, dephase: float = 0.0) -> Run:
    """Start the drill, watch its alerts and notification, stop it, watch them clear.

    A run starts `dephase` seconds after the previous one's alerts cleared, which an evaluation
    showed: without it every run would start at the same point of the evaluation cycle."""
    _poll(lambda: not firing_of(drill, lab), CLEAR_TIMEOUT_SECONDS)
    time.sleep(dephase)
    # Alertmanager's webhook is Logstash's HTTP input: without Logstash nothing is sent.
    notifies = lab.alertmanager_url is not None and "logstash" in lab.parts()
    sent_before = (
        webhook_notifications(lab.alertmanager_url, lab.prometheus_auth) if notifies else None
    )
    fired: dict[str, float | None] = dict.fromkeys(drill.alerts)
    notified: list[float] = []
    began = time.monotonic()
    incident.start(drill.name, lab, state=state)
    try:

        def all_seen() -> bool:
            now = time.monotonic() - began
            for name in firing_of(drill, lab):
                if fired.get(name, 0.0) is None:
                    fired[name] = now
            sent = (
                webhook_notifications(lab.alertmanager_url, lab.prometheus_auth)
                if notifies
                else None
            )
            if not notified and sent is not None and sent > (sent_before or 0.0):
                notified.append(time.monotonic() - began)
            return None not in fired.values() and (sent_before is None or bool(notified))

        _poll(all_seen, FIRE_TIMEOUT_SECONDS)
    finally:
        stopping = time.monotonic()
        incident.stop(lab, state=state)
    cleared = None
    if _poll(lambda: not firing_of(drill, lab), CLEAR_TIMEOUT_SECONDS):
        cleared = time.monotonic() - stopping
    return Run(drill.name, fired, notified[0] if notified else None, cleared)


def _cell(values: Sequence[float | None]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    p50, p95 = percentile(present, 50), percentile(present, 95)
    text = f"{p50:.1f} / {p95:.1f}"
    missing = len(values) - len(present)
    return text + (f" ({missing} missed)" if missing else "")


HEADER = (
    "drill",
    "alert",
    "runs",
    "firing p50 / p95 s",
    "notified p50 / p95 s",
    "cleared p50 / p95 s",
)


def table(runs: Sequence[Run]) -> str:
    """One Markdown row per drill and alert: the p50 and p95 of the runs' seconds."""
    rows = [HEADER]
    order = list(dict.fromkeys(run.drill for run in runs))
    for name in order:
        mine = [run for run in runs if run.drill == name]
        for alert in mine[0].fired:
            rows.append(
                (
                    name,
                    alert,
                    str(len(mine)),
                    _cell([run.fired.get(alert) for run in mine]),
                    _cell([run.notified for run in mine]),
                    _cell([run.cleared for run in mine]),
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.incident_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--runs", type=int, default=RUNS, help=f"runs of each drill ({RUNS})")
    parser.add_argument("--drill", action="append", help="only this drill (repeatable)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be at least 1, not {args.runs}")
    try:
        lab = incident.open_lab()
        drills = supported(lab)
        if args.drill:
            unknown = sorted(set(args.drill) - {d.name for d in DRILLS})
            if unknown:
                raise LabError(f"no drill named {', '.join(unknown)} (make incident lists them)")
            drills = [d for d in drills if d.name in args.drill]
        if not drills:
            raise LabError(f"the running {lab.kind} lab supports none of those drills")
        print(
            f"{len(drills)} drills on the {lab.kind} lab, {args.runs} run(s) each:"
            f" {', '.join(d.name for d in drills)}",
            file=sys.stderr,
        )
        interval = evaluation_interval(lab.prometheus_url, lab.prometheus_auth)
        runs = []
        for drill in drills:
            for number in range(1, args.runs + 1):
                run = run_once(drill, lab, dephase=random.uniform(0, interval))
                runs.append(run)
                print(f"  {drill.name} run {number}: {run}", file=sys.stderr)
    except LabError as error:
        print(f"make incident-bench: {error}", file=sys.stderr)
        return 1
    print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
