"""`make incident`: break the running lab on purpose, in a known and reversible way, and see how
fast its monitoring notices. The drills are lab/incident_catalogue.py's; they act on `make
local`'s processes or on the Docker lab's containers (lab/incident_targets.py).

    python -m lab.incident list [--json]   the drills
    python -m lab.incident start NAME      one drill on (traffic too, when it needs it)
    python -m lab.incident status          what is on, since when, which alerts fired when
    python -m lab.incident stop            everything back as it was

The state file is written before anything is touched, so a `stop` after a crash half-way still
undoes every step (each undo is idempotent).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app import faults
from app.contract import FUNCTIONS, sample_path
from dashboards.prometheus_rules import alerts, seconds
from lab import incident_targets
from lab.incident_catalogue import BY_NAME, DRILLS, FAULT, FUNCTION, HALT, Drill
from lab.support import BUILD_DIR, LabError, get_json

STATE_FILE = BUILD_DIR / "incident" / "state.json"
# Calls a second that a drill's traffic sends through Traefik, over every function.
TRAFFIC_RATE = 20
# The traffic process stops by itself after this long, whatever happens to the drill.
TRAFFIC_LIMIT_SECONDS = 3600


@dataclass
class Active:
    """The drill that is on: what it touched, on which lab, since when."""

    drill: str
    kind: str
    targets: list[str]
    started: float
    traffic_pid: int | None = None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.__dict__))

    @classmethod
    def load(cls, path: Path) -> Active | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


def targets_of(drill: Drill, lab) -> list[str]:
    """The parts the drill acts on, or LabError saying why this lab cannot run it."""
    if not (drill.local if lab.kind == "local" else drill.docker):
        where = "make local" if lab.kind == "local" else "the Docker lab"
        raise LabError(f"{drill.name} does not run on {where}")
    replicas = lab.replicas(FUNCTION)
    if drill.target in ("replica", "function"):
        if not replicas:
            raise LabError(f"{drill.name}: the running lab has no replica of {FUNCTION}")
        return replicas[:1] if drill.target == "replica" else replicas
    if drill.target not in lab.parts():
        raise LabError(f"{drill.name}: the running lab has no {drill.target} (switched off?)")
    if lab.prometheus_url is None:
        raise LabError(f"{drill.name}: the running lab has no Prometheus to notice it")
    return [drill.target]


def apply(drill: Drill, lab, targets: Sequence[str]) -> None:
    if drill.action == HALT:
        # All at once, as a function's replicas fail in a real outage: a stopped container
        # drains its calls first, and one after another would spread the fault over seconds.
        with ThreadPoolExecutor(max(1, len(targets))) as pool:
            list(pool.map(lab.halt, targets))
        return
    for target in targets:
        if drill.action == FAULT:
            lab.send(target, faults.FAULT_SIGNALS[drill.fault])
        else:
            lab.pause(target)


def undo(drill: Drill, lab, targets: Sequence[str]) -> None:
    """Every step back, whether or not it was taken."""
    for target in targets:
        if drill.action == FAULT:
            if lab.running(target):
                lab.send(target, faults.FAULTS_OFF)
        else:
            lab.resume(target)


def start_traffic(api_url: str, rate: int = TRAFFIC_RATE) -> int:
    """A detached process calling the functions' sample paths until killed (or the limit)."""
    argv = [sys.executable, "-m", "lab.incident", "_traffic", api_url, str(rate)]
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return process.pid


def traffic(api_url: str, rate: int, limit: float = TRAFFIC_LIMIT_SECONDS) -> None:
    """The traffic loop: one call every 1/rate s, round-robin over the functions."""
    import urllib.error
    import urllib.request

    paths = [sample_path(function) for function in FUNCTIONS]
    deadline = time.monotonic() + limit
    next_call = time.monotonic()
    sent = 0
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(api_url + paths[sent % len(paths)], timeout=5):
                pass
        except (urllib.error.URLError, OSError):
            pass  # the failures are the drill's point; Traefik and Prometheus count them
        sent += 1
        next_call += 1 / rate
        time.sleep(max(0.0, next_call - time.monotonic()))


def stop_traffic(pid: int | None) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)


def firing(prometheus_url: str | None, auth: tuple[str, str] | None = None) -> list[dict]:
    """Prometheus' alerts that fire now (pending ones are not there yet); `auth` is the login
    the Docker lab's Prometheus asks (its web config), None for `make local`'s."""
    if prometheus_url is None:
        return []
    answer = get_json(prometheus_url + "/api/v1/alerts", auth=auth) or {}
    found = answer.get("data", {}).get("alerts", [])
    return [alert for alert in found if alert.get("state") == "firing"]


def names_the_drill(alert: dict, drill: Drill) -> bool:
    if alert["labels"].get("alertname") not in drill.alerts:
        return False
    if drill.target in ("replica", "function"):
        return alert["labels"].get("function") == FUNCTION
    return True


def detected(
    drill: Drill,
    active: Active,
    prometheus_url: str | None,
    auth: tuple[str, str] | None = None,
) -> dict[str, float]:
    """Each of the drill's alerts that fires, with the seconds from the drill's start to its
    firing: Prometheus' activeAt (the first evaluation that saw it) plus the rule's `for`."""
    durations = {alert.name: seconds(alert.duration) for alert in alerts()}
    fired: dict[str, float] = {}
    for alert in firing(prometheus_url, auth):
        if names_the_drill(alert, drill):
            name = alert["labels"]["alertname"]
            active_at = datetime.fromisoformat(alert["activeAt"].replace("Z", "+00:00"))
            after = active_at.timestamp() + durations.get(name, 0) - active.started
            fired[name] = min(fired.get(name, after), after)
    return fired


def open_lab(kind: str | None = None):
    """The running lab: `make local`'s when it runs (or kind says local), else the Docker one."""
    if kind in (None, "local"):
        try:
            return incident_targets.LocalTargets()
        except LabError:
            if kind == "local":
                raise
    import docker

    from lab import automation

    settings = automation.stack_settings()
    urls = {key.removesuffix("_url"): url for key, url in settings.urls().items()}
    if urls.get("alertmanager"):
        urls["alertmanager"] = urls["alertmanager"].rstrip("/")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as error:  # no daemon: neither lab is there
        raise LabError(f"no running lab: no `make local`, and Docker answers {error}") from None
    return incident_targets.DockerTargets(client, automation.project_name(), automation.STACK, urls)


def start(name: str, lab, *, state: Path = STATE_FILE, with_traffic: bool = True) -> Active:
    drill = BY_NAME.get(name)
    if drill is None:
        raise LabError(f"no drill named {name!r} (make incident lists them)")
    current = Active.load(state)
    if current is not None:
        raise LabError(f"{current.drill} is on since {time.ctime(current.started)}: stop it first")
    targets = targets_of(drill, lab)
    active = Active(drill.name, lab.kind, targets, time.time())
    active.save(state)  # before any step, so a stop after a crash knows what to undo
    apply(drill, lab, targets)
    if drill.traffic and with_traffic:
        active.traffic_pid = start_traffic(lab.api_url)
        active.save(state)
    return active


def stop(lab, *, state: Path = STATE_FILE) -> Active:
    active = Active.load(state)
    if active is None:
        raise LabError("no drill is on")
    stop_traffic(active.traffic_pid)
    undo(BY_NAME[active.drill], lab, active.targets)
    state.unlink()
    return active


def describe(active: Active, lab) -> list[str]:
    drill = BY_NAME[active.drill]
    since = time.time() - active.started
    lines = [f"{drill.name} on {active.kind} for {since:.0f} s: {drill.breaks}"]
    fired = detected(drill, active, lab.prometheus_url, lab.prometheus_auth)
    for alert in drill.alerts:
        after = fired.get(alert)
        lines.append(
            f"  {alert}: " + ("not firing" if after is None else f"fired after {after:.1f} s")
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.incident", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the drills")
    listing.add_argument("--json", action="store_true")
    commands.add_parser("start", help="switch one drill on").add_argument("name")
    commands.add_parser("status", help="what is on and which alerts fired")
    commands.add_parser("stop", help="switch the drill off and restore the lab")
    hidden = commands.add_parser("_traffic")
    hidden.add_argument("api_url")
    hidden.add_argument("rate", type=int)
    args = parser.parse_args(argv)
    if args.command == "_traffic":
        traffic(args.api_url, args.rate)
        return 0
    if args.command == "list":
        if args.json:
            print(json.dumps([drill.summary() for drill in DRILLS], indent=2))
        else:
            for drill in DRILLS:
                where = "+".join(
                    k for k, on in (("local", drill.local), ("docker", drill.docker)) if on
                )
                print(f"{drill.name:<16} {where:<13} {drill.breaks}")
        return 0
    try:
        if args.command == "start":
            lab = open_lab()
            active = start(args.name, lab)
            drill = BY_NAME[active.drill]
            print(f"{drill.name} is on ({', '.join(active.targets)}): {drill.breaks}")
            print(f"expect: {', '.join(drill.alerts)}; look at:")
            for place in drill.find:
                print(f"  - {place}")
            if lab.prometheus_url:
                print(f"  - alerts: {lab.prometheus_url}/alerts")
            print("make incident-status shows what fired; make incident-stop restores the lab")
        elif args.command == "status":
            active = Active.load(STATE_FILE)
            if active is None:
                print("no drill is on")
                return 0
            print("\n".join(describe(active, open_lab(active.kind))))
        else:
            active = Active.load(STATE_FILE)
            if active is None:
                raise LabError("no drill is on")
            stopped = stop(open_lab(active.kind))
            print(f"{stopped.drill} is off: {', '.join(stopped.targets)} restored, traffic stopped")
    except LabError as error:
        print(f"make incident: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
