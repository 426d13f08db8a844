"""`make status`: probe every part of the lab and say which is up, starting or down.

The URLs are the deployed stack's outputs when the Pulumi CLI and a state can tell them, else
what the stack's settings imply, and the output says so. Nothing here shows a user a traceback
because the lab is down: it prints what it found and exits non-zero.
"""

from __future__ import annotations

import ssl
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

from app.contract import FUNCTIONS, sample_path
from lab import automation
from stack.configs import elasticsearch_tls as tls
from stack.configs.elasticsearch_tls import CA_CERTIFICATE_SECRET
from stack.settings import LabSettings, SettingsError

# Each part: the stack output that holds its URL (None: not exported) and the path that
# answers 200 when it is healthy.
PARTS: tuple[tuple[str, str | None, str], ...] = (
    ("api", "api_url", sample_path(FUNCTIONS[0])),
    ("traefik", "traefik_url", "/ping"),
    ("prometheus", "prometheus_url", "/-/healthy"),
    ("grafana", "grafana_url", "/api/health"),
    ("elasticsearch", None, "/_cluster/health"),
    ("kibana", "kibana_url", "/api/status"),
    # Served under /alertmanager/ (the URL's path); the blackbox exporter and node-exporter
    # publish no port: "Parts up" and Prometheus' `probe-*` and `node` targets show them.
    ("alertmanager", "alertmanager_url", "/-/healthy"),
)


def configured_urls(settings: LabSettings) -> dict[str, str]:
    """Every enabled part's URL as the program exports it, from the settings alone."""
    exported = settings.urls()
    urls = {part: exported.get(output) for part, output, _path in PARTS if output}
    urls["elasticsearch"] = settings.url("elasticsearch") if settings.logs else None
    return {part: urls[part] for part, _output, _path in PARTS if urls[part]}


def own_service_urls(settings: LabSettings, api_url: str | None) -> dict[str, str]:
    """Each `lab:services` entry (its own line in `make status`): the path its probe calls
    through Traefik, as the blackbox exporter does."""
    if not api_url:
        return {}
    return {entry.name: api_url.rstrip("/") + entry.probe_path for entry in settings.services}


def stack_outputs(settings: LabSettings) -> tuple[dict[str, str], str | None]:
    """Part -> URL from the deployed stack; else from its settings, with a note saying why."""
    if not automation.cli_present():
        reason = "the Pulumi CLI is not installed"
    elif not automation.STATE_DIR.exists():
        reason = f"no Pulumi state in {automation.STATE_DIR.name}/ (has `make up` run?)"
    else:
        outputs = automation.outputs()  # {} when the stack cannot be read or is not up
        urls = {part: outputs.get(output) for part, output, _path in PARTS if output}
        if any(urls.values()):
            # Elasticsearch is not exported; it is published where the settings say.
            if urls.get("kibana"):
                urls["elasticsearch"] = configured_urls(settings).get("elasticsearch")
            return {part: urls[part] for part, *_ in PARTS if urls.get(part)}, None
        reason = "the stack has no outputs (not up yet?)"
    note = f"URLs computed from {automation.STACK_FILE.name}: {reason}"
    return configured_urls(settings), note


@dataclass
class PartStatus:
    part: str
    url: str
    state: str  # "up", "not ready", "down"
    detail: str


def probe(
    part: str, url: str, timeout: float = 3.0, ca_certificate: str | None = None
) -> PartStatus:
    """One part's health; an https URL must prove itself with `ca_certificate` (the lab's CA,
    for Elasticsearch on Swarm), else with the system's CAs."""
    # A user's own service (own_service_urls) has its health path in its URL already.
    health_path = next((path for name, _output, path in PARTS if name == part), "")
    # Traefik's exported URL is its dashboard; /ping lives at the entrypoint's root.
    target = url.removesuffix("/").removesuffix("/dashboard") + health_path
    context = ssl.create_default_context(cadata=ca_certificate) if ca_certificate else None
    try:
        with urllib.request.urlopen(target, timeout=timeout, context=context) as response:
            return PartStatus(part, url, "up", f"HTTP {response.status}")
    except urllib.error.HTTPError as error:
        if error.code == 401:
            # It answered: up, behind a login (Elasticsearch, Kibana with security on).
            return PartStatus(part, url, "up", "HTTP 401: asks for a login (make credentials)")
        if error.code == 503:
            # Kibana says "Kibana server is not ready yet" for minutes after a start.
            return PartStatus(part, url, "not ready", "HTTP 503: still starting, wait and retry")
        return PartStatus(part, url, "down", f"HTTP {error.code} from {health_path}")
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return PartStatus(part, url, "down", f"no answer ({reason})")


def check(urls: Mapping[str, str], ca_certificate: str | None = None) -> list[PartStatus]:
    """Probe the parts in parallel: a down part costs its timeout once, not once per part."""
    results: dict[str, PartStatus] = {}

    def run(part: str, url: str) -> None:
        ca = ca_certificate if part == "elasticsearch" else None  # the lab's CA signs it only
        results[part] = probe(part, url, ca_certificate=ca)

    threads = [threading.Thread(target=run, args=item) for item in urls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[part] for part in urls]


def print_status(
    urls: Mapping[str, str],
    note: str | None,
    out: TextIO = sys.stdout,
    ca_certificate: str | None = None,
) -> int:
    if note:
        print(f"note: {note}", file=out)
    statuses = check(urls, ca_certificate)
    part_width = max((len(s.part) for s in statuses), default=4)
    url_width = max((len(s.url) for s in statuses), default=3)
    for status in statuses:
        print(
            f"{status.part:<{part_width}}  {status.state:<9}  {status.url:<{url_width}}  "
            f"{status.detail}",
            file=out,
        )
    healthy = all(s.state == "up" for s in statuses)
    if not any(s.state != "down" for s in statuses):
        print("nothing answers: start the lab with `make up` (or `make local`)", file=out)
    elif not healthy:
        print("some parts are not healthy: see docs/troubleshooting.md", file=out)
    return 0 if healthy else 1


def tasks_per_node(client, stack: str) -> dict[str, list[str]]:
    """On a swarm manager: node name -> `service.slot state` of each lab task placed there."""
    nodes = {node.id: node.attrs["Description"]["Hostname"] for node in client.nodes.list()}
    placed: dict[str, list[str]] = {name: [] for name in sorted(nodes.values())}
    for service in client.services.list(filters={"label": f"lab.stack={stack}"}):
        for task in service.tasks(filters={"desired-state": "running"}):
            node = nodes.get(task.get("NodeID"), "(unassigned)")
            state = task["Status"]["State"]
            placed.setdefault(node, []).append(f"{service.name}.{task.get('Slot', '')} {state}")
    return placed


def print_tasks(stack: str, out: TextIO = sys.stdout) -> None:
    import docker  # only the Swarm stack needs the SDK here; DOCKER_HOST names the manager

    try:
        placed = tasks_per_node(docker.from_env(), stack)
    except Exception as error:  # no manager reachable: the URL probes still say what is up
        print(f"tasks: cannot read the swarm ({error})", file=out)
        return
    for node, tasks in placed.items():
        print(f"{node}: {', '.join(sorted(tasks)) or 'no lab tasks'}", file=out)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args:
        print("usage: python -m lab.status", file=sys.stderr)
        return 2
    try:
        settings = automation.stack_settings()
        if settings.engine == "swarm":
            print_tasks(automation.STACK)
        urls, note = stack_outputs(settings)
        urls |= own_service_urls(settings, urls.get("api"))
        # Elasticsearch's HTTPS on Swarm is checked against the lab's CA, from the stack.
        ca = automation.stack_secret(CA_CERTIFICATE_SECRET) if tls.enabled(settings) else None
        code = print_status(urls, note, ca_certificate=ca)
        if code == 0:
            from lab.way_in import print_way_in  # imports this module: only once it is loaded

            print_way_in(settings)
        return code
    except SettingsError as error:
        print(f"lab: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
