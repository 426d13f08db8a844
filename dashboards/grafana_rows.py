"""The operator's rows of "Lab overview": firing alerts, the host under the lab, log delivery.

grafana_overview.py assembles them after the per-function rows; the PromQL comes from
promql.py, shared with the alerts that mirror these panels.
"""

from grafana_foundation_sdk.builders import dashboard as dashboard_builders

from dashboards import grafana_panels as panels
from dashboards import promql

WINDOW = "$__rate_interval"
ALERTS_ROW = "Alerts"
HOST_ROW = "Host"
LOGS_ROW = "Log delivery"
REPLICAS_ROW = "Replicas: $function"
# Grafana's list of alerts reads the rules' state from the Prometheus datasource (by name).
ALERT_LIST_DATASOURCE = panels.PROMETHEUS_NAME
LOG_MISSING_STEPS: panels.Steps = ((None, "green"), (promql.LOG_MISSING_LIMIT, "red"))
LOAD_STEPS: panels.Steps = ((None, "green"), (0.7, "orange"), (1, "red"))


def alert_panels() -> list:
    """What fires right now, from Prometheus' rules (the same alerts Alertmanager sends)."""
    alert_list = (
        dashboard_builders.Panel()
        .type("alertlist")
        .title("Firing alerts")
        .description(
            "Every lab alert firing or pending now, from Prometheus' rules; Alertmanager groups "
            "and sends the same ones. Where they started and ended is drawn on every graph."
        )
        .span(24)
        .height(panels.HEIGHT)
        .options(
            {
                "viewMode": "list",
                "groupMode": "default",
                "groupBy": [],
                "maxItems": 20,
                "sortOrder": 1,
                "dashboardAlerts": False,
                "alertName": "",
                "alertInstanceLabelFilter": "",
                "datasource": ALERT_LIST_DATASOURCE,
                "showInstances": True,
                "showInactiveAlerts": False,
                "stateFilter": {
                    "firing": True,
                    "pending": True,
                    "recovering": True,
                    "error": True,
                    "noData": False,
                    "normal": False,
                },
            }
        )
    )
    return [alert_list]


def alert_annotation() -> dict:
    """A Prometheus annotation over the ALERTS series: Grafana draws each firing alert as a
    region from its start to its end, titled with the alert and its function."""
    return {
        "name": "Firing alerts",
        "datasource": {"type": "prometheus", "uid": panels.PROMETHEUS_UID},
        "enable": True,
        "hide": False,
        "iconColor": "red",
        "expr": promql.firing_alerts(),
        "step": "30s",
        "titleFormat": "{{alertname}}",
        "textFormat": "{{function}} {{severity}}",
        "tagKeys": "alertname,function,severity",
        "useValueForTime": False,
    }


def replica_panels() -> list:
    """One line per replica over the last few scrapes: what the incident drills' alerts see,
    and where a single bad replica stands out from its healthy siblings."""
    scope = promql.PICKED
    replica = "{{instance}}"
    return [
        panels.timeseries_panel(
            f"Mean call time per replica ({promql.REPLICA_WINDOW})",
            "Each replica's mean time to answer a call, from its own histogram. One replica "
            "far above its siblings holds its calls (LabReplicaSlow above the line).",
            "s",
            panels.queries([(promql.replica_mean_call_seconds(scope), replica)]),
            steps=((None, "green"), (promql.REPLICA_MEAN_LIMIT_SECONDS, "red")),
        ),
        panels.timeseries_panel(
            f"5xx share per replica ({promql.REPLICA_WINDOW})",
            "Share of each replica's calls answered with a 5xx (LabReplicaErrors above the "
            "line). Read its error lines in Kibana's lab-errors search.",
            "percentunit",
            panels.queries([(promql.replica_error_ratio(scope), replica)]),
            steps=((None, "green"), (promql.ERROR_RATIO_LIMIT, "red")),
        ),
        panels.timeseries_panel(
            "Memory used of the limit per replica",
            "Resident memory of each replica as a share of its memory limit; at 1 the kernel's "
            "OOM killer ends it (LabReplicaMemoryHigh above the line).",
            "percentunit",
            panels.queries([(promql.replica_memory_used(scope), replica)]),
            steps=((None, "green"), (promql.MEMORY_USED_LIMIT, "red")),
        ),
    ]


def host_panels() -> list:
    """Is the machine itself the bottleneck? node-exporter's view of the Docker host."""
    return [
        panels.timeseries_panel(
            "CPU busy by mode",
            "Share of all the host's CPUs busy, per mode: user and system are work, iowait "
            "is waiting for disk, steal is a neighbour on the same hypervisor.",
            "percentunit",
            panels.queries([(promql.cpu_busy_by_mode(WINDOW), "{{mode}}")]),
        ),
        panels.timeseries_panel(
            "Load per core",
            "The 1-minute load average divided by the CPUs: above 1, runnable work waits.",
            "short",
            panels.queries([(promql.load_per_core(), "{{instance}}")]),
            steps=LOAD_STEPS,
        ),
        panels.timeseries_panel(
            "Memory available",
            "What the kernel can still hand out without swapping (MemAvailable).",
            "bytes",
            panels.queries([(promql.memory_available(), "{{instance}}")]),
        ),
        panels.timeseries_panel(
            "Disk free under Docker's data directory",
            f"Free bytes on the filesystem holding {promql.DOCKER_DATA_DIR} (images, "
            "containers, the lab's volumes): when it fills, Elasticsearch stops writing.",
            "bytes",
            panels.queries([(promql.disk_available(), "{{mountpoint}}")]),
        ),
        panels.timeseries_panel(
            "Network traffic",
            "Bytes per second in and out of the host's interfaces (loopback and Docker's "
            "virtual ones left out).",
            "Bps",
            panels.queries(
                [
                    (promql.network_bytes("receive", WINDOW), "{{device}} in"),
                    (promql.network_bytes("transmit", WINDOW), "{{device}} out"),
                ]
            ),
            width=panels.THIRD * 2,
        ),
    ]


def log_delivery_panels() -> list:
    """Are the calls answered the lines indexed? The LabLogLinesMissing alert's panels."""
    window = promql.LOG_WINDOW
    return [
        panels.timeseries_panel(
            f"Log lines expected and indexed ({window})",
            f"Over the last {window}: lines the calls must have produced (app access lines, "
            "Traefik access lines, rejections) and documents the lab-logs indices gained "
            "(elasticsearch exporter). The gap is lines lost or not indexed yet.",
            "short",
            panels.queries(
                [
                    (promql.log_lines_expected(window), "expected"),
                    (promql.log_lines_indexed(window), "indexed"),
                    (promql.log_lines_missing(window), "missing"),
                ]
            ),
            minimum=None,
            width=panels.HALF,
        ),
        panels.timeseries_panel(
            "Log lines missing",
            "Share of the expected lines not indexed; LabLogLinesMissing fires above the line. "
            "A few tenths of a percent is Logstash's batching delay.",
            "percentunit",
            panels.queries([(promql.log_lines_missing_share(window), "missing")]),
            steps=LOG_MISSING_STEPS,
            minimum=None,
            width=panels.HALF,
        ),
    ]
