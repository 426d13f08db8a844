"""`make status`, `make logs`, `make credentials`: what runs, what it says, how to log in.

`status` probes every part of the lab at the URLs the stack exported (read through the Pulumi
Automation API when the CLI and a state exist), or else at the URLs the stack's config implies,
and says so. `logs` follows the lab's containers through the Docker SDK, selected by the
`lab.project`/`lab.stack` labels every container carries. `credentials` says where each login
comes from and, when it can, reads the Grafana password from the stack's secret config.
Nothing here raises a traceback at a user because the lab is down: it prints what it found and
exits non-zero.
"""

from __future__ import annotations

import argparse
import queue
import shutil
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml

from stack import defaults

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = REPO_ROOT / ".pulumi-state"
DEFAULT_STACK = "dev"
GRAFANA_PASSWORD_KEY = "lab:grafanaAdminPassword"

# Each part: the stack output that holds its URL, the path that answers 200 when it is healthy,
# and which `lab:` switch turns it off (None: always on).
PARTS: tuple[tuple[str, str, str, str | None], ...] = (
    ("api", "api_url", "/fibonacci/1/", None),
    ("traefik", "traefik_url", "/ping", None),
    ("prometheus", "prometheus_url", "/-/healthy", "metrics"),
    ("grafana", "grafana_url", "/api/health", "grafana"),
    ("elasticsearch", "elasticsearch_url", "/_cluster/health", "logs"),
    ("kibana", "kibana_url", "/api/status", "logs"),
)


def project_name() -> str:
    try:
        return yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["name"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return "lab"


def stack_name() -> str:
    return DEFAULT_STACK  # scripts/lab.py drives the `dev` stack


def stack_config(stack: str | None = None) -> dict:
    """The `config:` block of Pulumi.<stack>.yaml, or {} when the file does not exist yet."""
    path = REPO_ROOT / f"Pulumi.{stack or stack_name()}.yaml"
    try:
        return (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    except (OSError, yaml.YAMLError):
        return {}


def _enabled(config: Mapping, switch: str | None) -> bool:
    if switch is None:
        return True
    value = config.get(f"lab:{switch}", True)
    if switch == "grafana" and not _enabled(config, "metrics"):
        return False  # Grafana reads Prometheus; without metrics it is not deployed
    return str(value).lower() not in ("false", "0", "no")


def configured_urls(config: Mapping | None = None) -> dict[str, str]:
    """Every enabled part's URL as the program would export it, from the config and defaults.

    Mirrors stack/__main__.py: Grafana and Kibana are reached through Traefik under /grafana/
    and /kibana; Elasticsearch (not exported) on its own published port.
    """
    config = stack_config() if config is None else config
    ports = {**defaults.PORTS, **(config.get("lab:ports") or {})}
    address = config.get("lab:bindAddress") or defaults.BIND_ADDRESS
    if address in ("0.0.0.0", "::"):
        address = "127.0.0.1"  # bound everywhere, so reachable on loopback too
    api = f"http://{address}:{ports['api']}"
    urls = {
        "api": api,
        "traefik": f"http://{address}:{ports['traefik']}/dashboard/",
        "prometheus": f"http://{address}:{ports['prometheus']}",
        "grafana": f"{api}/grafana/",
        "elasticsearch": f"http://{address}:{ports['elasticsearch']}",
        "kibana": f"{api}/kibana",
    }
    return {part: urls[part] for part, _output, _path, switch in PARTS if _enabled(config, switch)}


def pulumi_cli_present() -> bool:
    return shutil.which("pulumi") is not None or (REPO_ROOT / ".pulumi-cli/bin/pulumi").exists()


def stack_outputs() -> tuple[dict[str, str], str | None]:
    """Part -> URL from the deployed stack; else from its config, with a note saying why."""
    if not pulumi_cli_present():
        reason = "the Pulumi CLI is not installed"
    elif not STATE_DIR.exists():
        reason = f"no Pulumi state in {STATE_DIR.name}/ (has `make up` run?)"
    else:
        from scripts import lab

        outputs = lab.outputs()  # {} when the stack cannot be read or is not up
        by_output = {output: part for part, output, _path, _switch in PARTS}
        urls = {by_output[k]: v for k, v in outputs.items() if k in by_output and v}
        if urls:
            # Parts the program does not export (Elasticsearch) still come from the config.
            configured = configured_urls()
            if "kibana" in urls and "elasticsearch" in configured:
                urls["elasticsearch"] = configured["elasticsearch"]
            return {part: urls[part] for part, *_ in PARTS if part in urls}, None
        reason = "the stack has no outputs (not up yet?)"
    return configured_urls(), f"URLs computed from Pulumi.{stack_name()}.yaml: {reason}"


@dataclass
class PartStatus:
    part: str
    url: str
    state: str  # "up", "not ready", "down"
    detail: str


def probe(part: str, url: str, timeout: float = 3.0) -> PartStatus:
    health_path = next(path for name, _output, path, _switch in PARTS if name == part)
    # Traefik's exported URL is its dashboard; /ping lives at the entrypoint's root.
    target = url.removesuffix("/").removesuffix("/dashboard") + health_path
    try:
        with urllib.request.urlopen(target, timeout=timeout) as response:
            return PartStatus(part, url, "up", f"HTTP {response.status}")
    except urllib.error.HTTPError as error:
        if part == "elasticsearch" and error.code == 401:
            return PartStatus(part, url, "up", "HTTP 401: security is on, log in to see more")
        if error.code == 503:
            # Kibana says "Kibana server is not ready yet" for minutes after a start.
            return PartStatus(part, url, "not ready", "HTTP 503: still starting, wait and retry")
        return PartStatus(part, url, "down", f"HTTP {error.code} from {health_path}")
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return PartStatus(part, url, "down", f"no answer ({reason})")


def check(urls: Mapping[str, str]) -> list[PartStatus]:
    """Probe the parts in parallel: a down part costs its timeout once, not once per part."""
    results: dict[str, PartStatus] = {}
    threads = [
        threading.Thread(target=lambda p=part, u=url: results.__setitem__(p, probe(p, u)))
        for part, url in urls.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[part] for part in urls]


def print_status(out: TextIO = sys.stdout) -> int:
    urls, note = stack_outputs()
    if note:
        print(f"note: {note}", file=out)
    statuses = check(urls)
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
        print("some parts are not healthy: see README.md, Troubleshooting", file=out)
    return 0 if healthy else 1


# -- logs --------------------------------------------------------------------------------------


def lab_containers(client, project: str, stack: str) -> list:
    labels = [f"lab.project={project}", f"lab.stack={stack}"]
    return sorted(client.containers.list(filters={"label": labels}), key=lambda c: c.name)


def _pump(container, lines: queue.Queue, tail: int, follow: bool) -> None:
    """Push one container's log lines, prefixed with its name, until its stream ends."""
    pending = b""
    try:
        for chunk in container.logs(stream=True, follow=follow, tail=tail):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                lines.put(f"{container.name} | {line.decode(errors='replace')}")
    except Exception as error:  # the container went away or the daemon hung up
        lines.put(f"{container.name} | (log stream ended: {error})")
    if pending:
        lines.put(f"{container.name} | {pending.decode(errors='replace')}")
    lines.put(None)  # this stream is done


def follow_logs(
    containers: Iterable,
    out: TextIO = sys.stdout,
    *,
    tail: int = 20,
    follow: bool = True,
) -> None:
    """Interleave the containers' log lines on `out` until every stream has ended."""
    lines: queue.Queue = queue.Queue()
    pumps = [
        threading.Thread(target=_pump, args=(c, lines, tail, follow), daemon=True)
        for c in containers
    ]
    for pump in pumps:
        pump.start()
    running = len(pumps)
    while running:
        try:
            line = lines.get(timeout=0.5)  # a timeout keeps Ctrl-C responsive
        except queue.Empty:
            continue
        if line is None:
            running -= 1
        else:
            print(line, file=out, flush=True)


def docker_client():
    import docker

    client = docker.from_env(timeout=30)
    client.ping()
    return client


def print_logs(
    out: TextIO = sys.stdout,
    *,
    project: str | None = None,
    stack: str | None = None,
    tail: int = 20,
    follow: bool = True,
    client_factory: Callable = docker_client,
) -> int:
    project, stack = project or project_name(), stack or stack_name()
    try:
        client = client_factory()
    except Exception as error:  # no daemon, no permission, DOCKER_HOST wrong
        print(f"cannot reach Docker ({error}); is DOCKER_HOST right?", file=out)
        return 1
    try:
        containers = lab_containers(client, project, stack)
        if not containers:
            print(
                f"no running container labelled lab.project={project}, lab.stack={stack}:"
                " is the lab up (`make up`)?",
                file=out,
            )
            return 1
        names = ", ".join(c.name for c in containers)
        print(f"following {names} (Ctrl-C stops)", file=out, flush=True)
        follow_logs(containers, out, tail=tail, follow=follow)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        client.close()


# -- credentials -------------------------------------------------------------------------------


def grafana_password() -> tuple[str | None, str]:
    """The Grafana admin password from the stack's secret config, or None and why not."""
    if not pulumi_cli_present():
        return None, "the Pulumi CLI is not installed here"
    if not STATE_DIR.exists():
        return None, "no Pulumi state yet: `make up` generates the password"
    try:
        from scripts import lab

        stack = lab.select_stack(install=False)  # state, home and passphrase as `make up` set them
        # The equivalent of `pulumi config get --show-secrets`: `config get` decrypts one key.
        value = stack.get_config(GRAFANA_PASSWORD_KEY)
    except Exception as error:  # missing stack or key, wrong passphrase
        return None, f"could not read it: {str(error).strip().splitlines()[-1:] or error}"
    return value.value, "Pulumi secret"


def print_credentials(out: TextIO = sys.stdout, *, show: bool = True) -> int:
    config = stack_config()
    urls = configured_urls(config)
    stack = stack_name()
    exposure = config.get("lab:bindAddress") or defaults.BIND_ADDRESS
    lines = ["Where each login comes from:"]
    if "grafana" in urls:
        password, why_not = grafana_password() if show else (None, "--no-show")
        lines += [
            f"  Grafana        {urls['grafana']}  user: admin",
            f"                 password: the Pulumi secret {GRAFANA_PASSWORD_KEY} (stack {stack}),",
            "                 generated by the first `make up` and kept afterwards; by hand:",
            f"                 PULUMI_BACKEND_URL=file://{STATE_DIR}"
            f" PULUMI_CONFIG_PASSPHRASE_FILE={STATE_DIR}/passphrase",
            f"                 pulumi config get {GRAFANA_PASSWORD_KEY} --stack {stack}",
            f"                 value: {password if password else f'(not read: {why_not})'}",
        ]
    else:
        lines.append("  Grafana        switched off (lab:metrics / lab:grafana)")
    if "kibana" in urls:
        lines += [
            f"  Kibana         {urls['kibana']}  no login",
            f"  Elasticsearch  {urls['elasticsearch']}  no login: security is off"
            " (xpack.security.enabled=false, see stack/README.md)",
        ]
    else:
        lines.append("  Kibana, Elasticsearch: switched off (lab:logs)")
    lines.append(f"  Traefik        {urls['traefik']}  no login")
    if "prometheus" in urls:
        lines.append(f"  Prometheus     {urls['prometheus']}  no login")
    lines.append(f"Every port is published on {exposure} only (lab:bindAddress).")
    print("\n".join(lines), file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts.status", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("status", help="health and URL of every part (the default)")
    logs = commands.add_parser("logs", help="follow the lab's container logs")
    logs.add_argument("--tail", type=int, default=20, help="earlier lines to show first")
    logs.add_argument("--no-follow", action="store_true", help="print and exit")
    logs.add_argument("--project", help="lab.project label (default: Pulumi.yaml's name)")
    logs.add_argument("--stack", help=f"lab.stack label (default: {DEFAULT_STACK})")
    credentials = commands.add_parser("credentials", help="where each login comes from")
    credentials.add_argument("--no-show", action="store_true", help="do not print the password")
    args = parser.parse_args(argv)
    try:
        if args.command == "logs":
            return print_logs(
                project=args.project, stack=args.stack, tail=args.tail, follow=not args.no_follow
            )
        if args.command == "credentials":
            return print_credentials(show=not args.no_show)
        return print_status()
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
