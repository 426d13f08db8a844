"""The incident drills: what each one breaks, how, what a person should find, and which alerts
must fire. lab/incident.py runs them; this module only describes them (no I/O).

Every drill is reversible by `make incident-stop`: a fault is one signal that the replica
clears with FAULTS_OFF (app/faults.py), a stopped part is started again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# The replica and the function the per-replica drills pick: the first replica of the first
# function, so a person knows where to look before starting.
FUNCTION = "fibonacci"

# What a drill does to its targets.
FAULT = "fault"  # a real-time signal switching on one of app/faults.py's faults
HALT = "halt"  # the part stopped (a container), or frozen with SIGSTOP (a local process)
PAUSE = "pause"  # the container paused (docker pause): alive, taking nothing


@dataclass(frozen=True)
class Drill:
    name: str
    breaks: str
    how: str
    action: str
    # Which targets: "replica" (the first of FUNCTION), "function" (all of FUNCTION's
    # replicas), or a part's name ("traefik", "logstash").
    target: str
    alerts: tuple[str, ...]
    find: tuple[str, ...]
    local: bool
    docker: bool
    # app/faults.py's fault name, for FAULT drills.
    fault: str | None = None
    # Calls through Traefik while the drill is on: the symptom needs traffic to show.
    traffic: bool = True

    def summary(self) -> dict:
        """The drill as `list --json` prints it."""
        return asdict(self) | {"alerts": list(self.alerts), "find": list(self.find)}


DRILLS: tuple[Drill, ...] = (
    Drill(
        name="slow-replica",
        breaks=f"{FUNCTION}-1 answers every call some 200 ms late",
        how="a signal switches on the replica's delay (app/faults.py); no port, no capability",
        action=FAULT,
        target="replica",
        fault="slow",
        alerts=("LabReplicaSlow",),
        find=(
            "alert LabReplicaSlow names the replica",
            "Grafana: Lab overview > Replicas > Mean call time per replica",
            "Kibana: Lab: all calls, sorted by event.duration",
        ),
        local=True,
        docker=True,
    ),
    Drill(
        name="error-burst",
        breaks=f"{FUNCTION}-1 answers half of its calls with 500",
        how="a signal switches on the replica's error fault (app/faults.py)",
        action=FAULT,
        target="replica",
        fault="errors",
        alerts=("LabReplicaErrors",),
        find=(
            "alert LabReplicaErrors names the replica",
            "Grafana: Lab overview > Replicas > 5xx share per replica",
            "Kibana: Lab: errors (the injected 500s with their error.message)",
        ),
        local=True,
        docker=True,
    ),
    Drill(
        name="memory-pressure",
        breaks=f"{FUNCTION}-1 grows towards its memory limit and holds there",
        how="a signal makes the replica allocate up to 90 % of its limit (app/faults.py)",
        action=FAULT,
        target="replica",
        fault="memory",
        alerts=("LabReplicaMemoryHigh",),
        find=(
            "alert LabReplicaMemoryHigh names the replica",
            "Grafana: Lab overview > Replicas > Memory used of the limit per replica",
        ),
        local=True,
        docker=True,
        traffic=False,
    ),
    Drill(
        name="dead-replica",
        breaks=f"{FUNCTION}-1 stops; Traefik's health check routes around it",
        how="the container is stopped (a local process is frozen with SIGSTOP)",
        action=HALT,
        target="replica",
        alerts=("LabTargetDown",),
        find=(
            "alert LabTargetDown names the replica; calls keep answering 200",
            f"Grafana: Lab overview > Function: {FUNCTION} > replicas scraped and healthy",
            "Traefik dashboard: the server's health turns red",
        ),
        local=True,
        docker=True,
    ),
    Drill(
        name="function-down",
        breaks=f"every replica of {FUNCTION} stops; its calls fail at Traefik",
        how="every replica's container is stopped (local processes frozen with SIGSTOP)",
        action=HALT,
        target="function",
        alerts=("LabTargetDown",),
        find=(
            f"alert LabTargetDown, one notification grouping {FUNCTION}'s replicas",
            "Grafana: Lab overview > Parts up, and Traefik's 5xx share",
            "Kibana: Lab: errors (Traefik's 503 access lines)",
        ),
        local=True,
        docker=True,
    ),
    Drill(
        name="traefik-down",
        breaks="Traefik stops: no call reaches any function",
        how="the Traefik container is stopped (the local process frozen with SIGSTOP)",
        action=HALT,
        target="traefik",
        alerts=("LabTraefikDown",),
        find=(
            "alert LabTraefikDown alone: Alertmanager holds back the per-function alerts",
            "Grafana: Lab overview > Firing alerts",
        ),
        local=True,
        docker=True,
    ),
    Drill(
        name="log-stall",
        breaks="Logstash takes no lines: calls answer, their log lines wait or are lost",
        how="the Logstash container is paused (docker pause): alive, reading nothing",
        action=PAUSE,
        target="logstash",
        alerts=("LabLogLinesMissing",),
        find=(
            "alert LabLogLinesMissing (its window is 10 minutes: a slow drill)",
            "Grafana: Lab overview > Log delivery > Log lines expected and indexed",
            "Docker: the gelf driver's ring buffer holds lines, and drops what overflows",
        ),
        local=False,
        docker=True,
    ),
)

BY_NAME = {drill.name: drill for drill in DRILLS}
