"""One edit in one place reaches every part that shows the fact (issue 9).

Each case copies the lab's sources to a temporary tree, makes exactly one textual edit there
(a histogram bucket, the function list or the app's port in app/contract.py; a switch in
Pulumi.dev.yaml), runs the Pulumi program of that copy under mocks (tests/support/capture.py)
and finds the new value in everything the program declares: container settings, uploaded
configs, dashboards, rules and saved objects; the old value is nowhere.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.contract import FUNCTIONS
from lab.support import REPO_ROOT
from stack.configs import prometheus_yaml, traefik_yaml
from tests.stack.captured import upload
from tests.support.capture import capture
from tests.support.declared import stack_config

SOURCES = ("app", "stack", "dashboards", "lab", "tests", "Pulumi.yaml", "Pulumi.dev.yaml")
IGNORED = shutil.ignore_patterns(
    "__pycache__",
    "wheelhouse",
    ".*_cache",
    "*.pyc",
    ".venv",  # stack/.venv links the venv
)


def edited_copy(tmp_path: Path, relative: str, old: str, new: str) -> Path:
    """The sources under tmp_path with `old` replaced by `new` once in `relative`."""
    for name in SOURCES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=IGNORED)
        else:
            shutil.copy2(source, tmp_path / name)
    path = tmp_path / relative
    text = path.read_text()
    assert text.count(old) == 1, f"{relative}: the edit's anchor {old!r} is not unique"
    path.write_text(text.replace(old, new))
    return tmp_path


def run(root: Path, *argv: str) -> str:
    """`python argv...` with the copy, not the checkout, first on the path."""
    result = subprocess.run(
        [sys.executable, *argv],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def declared(root: Path, config: dict | None = None) -> dict:
    """The copy's program under mocks, every resource by name."""
    return {record["name"]: record for record in capture(config, root=root)["resources"]}


@functools.cache
def declared_here() -> dict:
    """The checkout's own program with its own stack file: the unedited lab."""
    return declared(REPO_ROOT, stack_config("dev", REPO_ROOT))


def everything(resources: dict) -> str:
    """All the program declares as one text: inputs, uploaded files, the saved objects."""
    return json.dumps([record["inputs"] for record in resources.values()])


def uploaded_yaml(resources: dict, container: str, path: str) -> dict:
    return yaml.safe_load(upload(resources[container], path))


def test_a_bucket_edited_in_the_contract_reaches_the_app_and_traefik(tmp_path):
    root = edited_copy(tmp_path, "app/contract.py", "    0.00025,\n", "    0.0003,\n")
    resources = declared(root)
    static = uploaded_yaml(resources, "lab-dev-traefik-container", traefik_yaml.STATIC_FILE)
    buckets = static["metrics"]["prometheus"]["buckets"]
    assert 0.0003 in buckets, buckets
    assert 0.00025 not in buckets, buckets
    # The app's histograms, as the image would run them from the copy.
    exposition = run(
        root,
        "-c",
        "from prometheus_client import CollectorRegistry, generate_latest\n"
        "from app.metrics import ServiceMetrics\n"
        "registry = CollectorRegistry()\n"
        "ServiceMetrics('fibonacci', registry)\n"
        "print(generate_latest(registry).decode())",
    )
    bounds = set(re.findall(r'le="([0-9.e-]+)"', exposition))
    assert "0.0003" in bounds, sorted(bounds)
    assert "0.00025" not in bounds, sorted(bounds)


def test_a_function_dropped_from_the_contract_leaves_every_part(tmp_path):
    root = edited_copy(
        tmp_path, "app/contract.py", '        "ackermann": (("m", 3), ("n", 4)),\n', ""
    )
    text = everything(declared(root))
    for kept in ("fibonacci", "factorial"):
        assert kept in text, kept
    assert "ackermann" not in text.lower(), "a part still names the dropped function"


def test_the_app_port_edited_in_the_contract_reaches_replicas_traefik_and_prometheus(tmp_path):
    root = edited_copy(tmp_path, "app/contract.py", "APP_PORT = 8080\n", "APP_PORT = 8181\n")
    resources = declared(root)
    replica = resources["lab-dev-fibonacci-fibonacci-1"]["inputs"]
    assert "LAB_PORT=8181" in replica["envs"]
    assert any("8181" in word for word in replica["healthcheck"]["tests"]), replica["healthcheck"]
    dynamic = uploaded_yaml(resources, "lab-dev-traefik-container", traefik_yaml.DYNAMIC_FILE)
    servers = [
        server["url"]
        for name, service in dynamic["http"]["services"].items()
        if name in FUNCTIONS
        for server in service["loadBalancer"]["servers"]
    ]
    assert len(servers) == 2 * len(FUNCTIONS), dynamic["http"]["services"]
    assert all(url.endswith(":8181") for url in servers), servers
    config = uploaded_yaml(resources, "lab-dev-prometheus-container", prometheus_yaml.CONFIG_FILE)
    targets = [
        target
        for job in config["scrape_configs"]
        if job["job_name"] in FUNCTIONS
        for group in job.get("static_configs", [])
        for target in group["targets"]
    ]
    assert len(targets) == 2 * len(FUNCTIONS), config["scrape_configs"]
    assert all(target.endswith(":8181") for target in targets), targets


# Each switch's part, and words only that part's presence puts into what is declared: its
# metrics in the rules and dashboards, its name in Prometheus' jobs and Grafana's datasources.
SWITCHED = {
    "probes": ("blackbox", ("blackbox", "probe_success", "LabProbeFailed", "probe-calls")),
    "host": ("node-exporter", ("node_exporter", "node_cpu", "node_load", "node_memory")),
    "alerting": ("alertmanager", ("alertmanagers", "http://alertmanager")),
    "logs": ("elasticsearch", ("LabLogLinesMissing", "elasticsearch_exporter", "gelf")),
}


@pytest.mark.parametrize("switch", sorted(SWITCHED))
def test_a_switch_edited_in_the_stack_file_turns_its_part_off_everywhere(tmp_path, switch):
    root = edited_copy(
        tmp_path, "Pulumi.dev.yaml", "config: {}\n", f"config:\n  lab:{switch}: false\n"
    )
    # The stack file reaches the program as config, read the way `make up` reads it.
    on, off = declared_here(), declared(root, stack_config("dev", root))
    part, traces = SWITCHED[switch]
    assert f"lab-dev-{part}-container" in on
    assert f"lab-dev-{part}-container" not in off
    for trace in traces:
        assert trace in everything(on), f"{trace}: not a trace of {part} to begin with"
        where = [name for name, record in off.items() if trace in json.dumps(record["inputs"])]
        assert not where, f"{trace} is still declared in {where} with lab:{switch} false"
