"""The lab's front door: `python -m scripts.lab preview|up|down` (make preview/up/down).

Drives the Pulumi program in stack/ through Pulumi's Automation API with everything inside the
project: a local file backend (.pulumi-state/), PULUMI_HOME (.pulumi-home/), the CLI if it has to
be installed (.pulumi-cli/), and the passphrase of the passphrase secrets provider
(.pulumi-state/passphrase, mode 0600, gitignored: it decrypts the stack's secrets, so it stays
next to the state it belongs to and never enters git). No `pulumi login`, no account.

The first `up` creates the `dev` stack and generates the Grafana admin password as an
encrypted config value. Every failure the user can fix ends in one line on stderr and a non-zero
exit status, never a traceback.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from stack import defaults

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = REPO_ROOT / ".pulumi-state"
PULUMI_HOME = REPO_ROOT / ".pulumi-home"
CLI_ROOT = REPO_ROOT / ".pulumi-cli"
PASSPHRASE_FILE = STATE_DIR / "passphrase"
STACK_CONFIG = REPO_ROOT / "Pulumi.dev.yaml"
STACK = "dev"
MIN_MAX_MAP_COUNT = 262144
GRAFANA_PASSWORD_KEY = "lab:grafanaAdminPassword"
INSTALL_TIMEOUT_SECONDS = 60
INSTALL_HINT = (
    "the Pulumi CLI is not installed and could not be downloaded: install it "
    "(https://www.pulumi.com/docs/install/, or put it in .pulumi-cli/bin/pulumi) and retry"
)


class LabError(Exception):
    """A problem the user can fix; its message is the one line they see."""


# --- environment ---------------------------------------------------------------------------


def pulumi_env() -> dict[str, str]:
    return {
        "PULUMI_BACKEND_URL": f"file://{STATE_DIR}",
        "PULUMI_HOME": str(PULUMI_HOME),
        "PULUMI_CONFIG_PASSPHRASE_FILE": str(PASSPHRASE_FILE),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }


def ensure_passphrase(path: Path = PASSPHRASE_FILE) -> Path:
    """Create the secrets passphrase once (0600 from the start, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    return path


def find_cli(
    cli_root: Path = CLI_ROOT,
    *,
    command_factory: Callable[..., Any] | None = None,
    installer: Callable[..., Any] | None = None,
):
    """The Pulumi CLI from .pulumi-cli/ or PATH; else install it into .pulumi-cli/."""
    from pulumi.automation import PulumiCommand

    command_factory = command_factory or PulumiCommand
    installer = installer or PulumiCommand.install
    for root in (str(cli_root), None):
        try:
            return command_factory(root=root)
        except Exception:  # missing or unusable: try the next place
            continue
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(INSTALL_TIMEOUT_SECONDS)  # the installer's download has none
    try:
        return installer(root=str(cli_root))
    except Exception as error:
        raise LabError(INSTALL_HINT) from error
    finally:
        socket.setdefaulttimeout(previous_timeout)


# --- pre-flight ----------------------------------------------------------------------------


def stack_settings(path: Path = STACK_CONFIG) -> dict[str, Any]:
    """The plain (non-secret) `lab:` settings of Pulumi.dev.yaml, without the namespace."""
    config = (yaml.safe_load(path.read_text()) or {}).get("config", {})
    return {
        key.removeprefix("lab:"): value
        for key, value in config.items()
        if key.startswith("lab:") and not (isinstance(value, dict) and "secure" in value)
    }


def _flag(settings: Mapping[str, Any], key: str) -> bool:
    value = settings.get(key, True)
    return value if isinstance(value, bool) else str(value).lower() == "true"


def required_memory_mb(settings: Mapping[str, Any]) -> int:
    """The sum of the memory limits of every container the settings enable."""
    memory = {**defaults.MEMORY_MB, **(settings.get("memoryMb") or {})}
    replicas = int(settings.get("replicas", defaults.REPLICAS))
    total = 3 * replicas * int(memory["function"]) + int(memory["traefik"])
    if _flag(settings, "metrics"):
        total += int(memory["prometheus"])
        if _flag(settings, "grafana"):
            total += int(memory["grafana"])
    if _flag(settings, "logs"):
        total += sum(int(memory[part]) for part in ("elasticsearch", "logstash", "kibana"))
    return total


def check_docker(client_factory: Callable[[], Any] | None = None):
    """The Docker daemon answers; returns the client for the other checks."""
    try:
        if client_factory is None:
            import docker

            client = docker.from_env(timeout=10)
        else:
            client = client_factory()
        client.ping()
    except Exception as error:
        raise LabError(
            f"the Docker daemon does not answer ({type(error).__name__}): start it "
            "(Debian: `sudo systemctl start docker`, or `make provision`) and retry"
        ) from error
    return client


def check_max_map_count(settings: Mapping[str, Any], sysctl_path: Path) -> None:
    if not _flag(settings, "logs") or not sysctl_path.exists():
        return
    value = int(sysctl_path.read_text().strip())
    if value < MIN_MAX_MAP_COUNT:
        raise LabError(
            f"vm.max_map_count is {value}, Elasticsearch needs {MIN_MAX_MAP_COUNT}: run "
            f"`sudo sysctl -w vm.max_map_count={MIN_MAX_MAP_COUNT}` (persist it in "
            "/etc/sysctl.d/99-lab.conf), or set lab:logs to false"
        )


def available_memory_mb(meminfo_path: Path) -> int | None:
    if not meminfo_path.exists():
        return None
    for line in meminfo_path.read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return None


def lab_memory_in_use_mb(client: Any, stack: str = STACK) -> int:
    """Memory limits of this lab's running containers: an `up` over a running lab reuses it."""
    total = 0
    for container in client.containers.list(filters={"label": f"lab.stack={stack}"}):
        total += int(container.attrs.get("HostConfig", {}).get("Memory") or 0) // (1024 * 1024)
    return total


def check_memory(settings: Mapping[str, Any], available_mb: int | None, in_use_mb: int) -> None:
    if available_mb is None:
        return
    needed = required_memory_mb(settings) - in_use_mb
    if needed > available_mb:
        raise LabError(
            f"the enabled parts need about {needed} MB of memory but {available_mb} MB are free: "
            "free some, or switch parts off (lab:logs false saves "
            f"{sum(defaults.MEMORY_MB[p] for p in ('elasticsearch', 'logstash', 'kibana'))} MB)"
        )


def preflight(
    settings: Mapping[str, Any],
    *,
    client_factory: Callable[[], Any] | None = None,
    sysctl_path: Path = Path("/proc/sys/vm/max_map_count"),
    meminfo_path: Path = Path("/proc/meminfo"),
) -> None:
    client = check_docker(client_factory)
    check_max_map_count(settings, sysctl_path)
    check_memory(settings, available_memory_mb(meminfo_path), lab_memory_in_use_mb(client))


# --- the stack -----------------------------------------------------------------------------


def _no_install(**_kwargs):
    raise LabError(INSTALL_HINT)


def select_stack(cli=None, *, install: bool = True):
    from pulumi import automation

    cli = cli or find_cli(installer=None if install else _no_install)
    ensure_passphrase()
    PULUMI_HOME.mkdir(exist_ok=True)
    env = pulumi_env()
    os.environ.update(env)  # the CLI's child processes (language host, plugins) read these
    workspace = automation.LocalWorkspaceOptions(
        work_dir=str(REPO_ROOT),
        pulumi_home=str(PULUMI_HOME),
        env_vars=env,
        secrets_provider="passphrase",
        pulumi_command=cli,
    )
    stack = automation.create_or_select_stack(
        stack_name=STACK, work_dir=str(REPO_ROOT), opts=workspace
    )
    return stack


def ensure_secrets(stack) -> None:
    """Generate the Grafana admin password on the first `up`; keep it afterwards."""
    from pulumi import automation

    if GRAFANA_PASSWORD_KEY not in stack.get_all_config():
        stack.set_config(
            GRAFANA_PASSWORD_KEY,
            automation.ConfigValue(value=secrets.token_urlsafe(18), secret=True),
        )


def outputs() -> dict:
    """The dev stack's outputs as plain values (for `make status`); {} when nothing is up."""
    try:
        stack = select_stack(install=False)
        return {key: item.value for key, item in stack.outputs().items()}
    except Exception:  # no CLI, no stack yet, unreadable state: nothing to report
        return {}


COMMANDS = ("preview", "up", "down")


def run(command: str) -> int:
    if command not in COMMANDS:
        raise LabError(f"unknown command {command!r}: use {', '.join(COMMANDS)}")
    settings = stack_settings()
    stack = select_stack()  # the CLI check comes first: nothing works without it
    printer = {"on_output": print}
    if command == "preview":
        check_docker()
        ensure_secrets(stack)
        stack.preview(**printer)
    elif command == "up":
        preflight(settings)
        ensure_secrets(stack)
        result = stack.up(**printer)
        for key, item in sorted(result.outputs.items()):
            print(f"{key:16} {'[secret]' if item.secret else item.value}")
    else:
        stack.destroy(**printer)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m scripts.lab preview|up|down", file=sys.stderr)
        return 2
    try:
        return run(args[0])
    except LabError as error:
        print(f"lab: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # Pulumi's own failures: its output was already streamed
        last_line = (str(error).strip().splitlines() or [type(error).__name__])[-1]
        print(f"lab: {args[0]} failed: {last_line[:300]}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
