"""The README is a front page (issue 20) and every figure the docs give matches the code: the
memory table and totals are read from stack/settings, the troubleshooting from the log
shipping's transport, and every link goes somewhere."""

from __future__ import annotations

import re

from app.contract import FUNCTIONS
from lab.support import REPO_ROOT
from stack import log_shipping
from stack.settings import MEMORY_MB, PORTS, parse

README = (REPO_ROOT / "README.md").read_text()
TROUBLESHOOTING = (REPO_ROOT / "docs" / "troubleshooting.md").read_text()
# The README's rows of the memory table -> the parts (stack/settings.MEMORY_MB keys) they cover.
MEMORY_ROWS = {
    "function replicas": ("function",),
    "Traefik": ("traefik",),
    "Prometheus": ("prometheus",),
    "Grafana": ("grafana",),
    "Elasticsearch": ("elasticsearch",),
    "Logstash": ("logstash",),
    "Kibana": ("kibana",),
    "Alertmanager, blackbox exporter, node-exporter, the two exporters": (
        "alertmanager",
        "blackbox",
        "node_exporter",
        "elasticsearch_exporter",
        "logstash_exporter",
    ),
}


def _gb(megabytes: int) -> str:
    return f"{megabytes / 1000:.1f} GB"


def test_the_readme_is_a_front_page():
    lines = README.splitlines()
    assert len(lines) <= 250, len(lines)
    first_screen = "\n".join(lines[:40])
    for command in ("make install", "make up", "make traffic"):
        assert command in first_screen, command
    assert "```mermaid" in README
    # CI runs exactly the README's test command.
    assert "```sh\nmake test\n```" in README
    assert "\nmake test\n" in (REPO_ROOT / ".ci" / "run").read_text()


def test_the_memory_table_is_the_settings():
    rows = dict(re.findall(r"^\s*\| ([^|]+?) \| ([0-9]+) MB", README, re.MULTILINE))
    assert set(rows) == set(MEMORY_ROWS), rows
    covered = [part for parts in MEMORY_ROWS.values() for part in parts]
    assert sorted(covered) == sorted(MEMORY_MB)
    for row, parts in MEMORY_ROWS.items():
        for part in parts:
            assert int(rows[row]) == MEMORY_MB[part], (row, part)


def test_the_memory_totals_are_what_make_up_checks():
    whole = parse({}).memory_needed_mb(len(FUNCTIONS))
    metrics_only = parse({"logs": False}).memory_needed_mb(len(FUNCTIONS))
    assert f"about {_gb(whole)} of free memory ({_gb(metrics_only)} without" in README
    assert f"The whole lab: about {_gb(whole)}; without the Elastic stack" in README
    assert f"`lab:logs: false`): {_gb(metrics_only)}." in README
    assert f"`lab:logs: false` in `Pulumi.dev.yaml`, {_gb(metrics_only)})" in TROUBLESHOOTING


def test_troubleshooting_tells_the_transport_logs_really_take():
    scheme = log_shipping.GELF_SCHEME.upper()
    assert f"GELF input is\n  {scheme}" in TROUBLESHOOTING
    assert "UDP" not in TROUBLESHOOTING


def test_every_link_of_the_readme_and_docs_exists():
    for page in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), (page.name, target)


def test_every_port_the_readme_names_is_the_settings():
    published = {str(port) for port in PORTS.values()}
    named = set(re.findall(r"(?:http|tcp)://127\.0\.0\.1:([0-9]+)", README))
    named |= set(re.findall(r"direct: ([0-9]+)", README))
    assert named, "no port found in the README"
    assert named <= published, named - published
    # The API's port heads the services table and the quick start's way in.
    assert f"http://127.0.0.1:{PORTS['api']}/fibonacci/10/" in README
