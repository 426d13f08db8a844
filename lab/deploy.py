"""`python -m lab.deploy preview|up|down` (make preview/up/down): the Pulumi program in stack/,
driven through the Automation API (lab/automation.py), after checks the user can act on.

The stack's config is validated first, so invalid config stops `preview` and `up` with the
settings error before Pulumi is touched; `down` needs no config and works on a broken one.
Every failure the user can fix ends in one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import sys
from collections.abc import Callable
from typing import Any

from app.contract import FUNCTIONS
from lab import automation, volumes
from lab import preflight as preflight_checks
from lab.support import LabError
from stack.settings import LabSettings, SettingsError

COMMANDS = ("preview", "up", "down")
# From Docker Engine 28 on, a port published on 127.0.0.1 no longer answers packets that other
# hosts on the LAN address to 127.0.0.1 (moby issues 45610 and 41872).
SAFE_LOOPBACK_ENGINE = 28


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


def lab_memory_in_use_mb(client: Any, stack: str = automation.STACK) -> int:
    """Memory limits of this lab's running containers: an `up` over a running lab reuses it."""
    total = 0
    for container in client.containers.list(filters={"label": f"lab.stack={stack}"}):
        total += int(container.attrs.get("HostConfig", {}).get("Memory") or 0) // (1024 * 1024)
    return total


def check_memory(
    settings: LabSettings, available_mb: int | None, in_use_mb: int, platform: str = "linux"
) -> None:
    if available_mb is None:
        return
    total = settings.memory_needed_mb(len(FUNCTIONS))
    needed = total - in_use_mb
    if needed > available_mb:
        saved = total - dataclasses.replace(settings, logs=False).memory_needed_mb(len(FUNCTIONS))
        raise LabError(
            f"the enabled parts need about {needed} MB of memory but {available_mb} MB are free"
            f" where the containers run: free some ({preflight_checks.memory_fix(platform)}),"
            f" or switch parts off (lab:logs false saves {saved} MB)"
        )


def engine_warning(settings: LabSettings, version: str) -> str | None:
    """What to do when the engine publishes loopback ports to the LAN; None when it does not."""
    if settings.engine != "docker" or not ipaddress.ip_address(settings.bind_address).is_loopback:
        return None
    match = re.match(r"(\d+)\.", version or "")
    if match and int(match.group(1)) >= SAFE_LOOPBACK_ENGINE:
        return None
    engine = (
        f"warning: Docker Engine {version} is older than"
        if version
        else "warning: the Docker Engine does not say its version, so it may be older than"
    )
    return (
        f"{engine} {SAFE_LOOPBACK_ENGINE}: hosts on the same LAN can reach ports published on"
        f" {settings.bind_address} (moby issues 45610 and 41872). Upgrade the engine to"
        f" {SAFE_LOOPBACK_ENGINE} or later, or drop such packets yourself:"
        " `sudo iptables -t raw -I PREROUTING ! -i lo -d 127.0.0.0/8 -j DROP`"
    )


def engine_version(client: Any) -> str:
    try:
        return str(client.version().get("Version", ""))
    except Exception:  # an old or odd daemon: warn as for an unknown version
        return ""


def engine_facts(client: Any, settings: LabSettings) -> preflight_checks.EngineFacts | None:
    """The engine's memory, max_map_count and volume disk, read through the daemon
    (lab/preflight.py) with the lab's Python base image; None, and no check, when the probe
    cannot run (the image cannot be pulled yet): `up` then fails on its own, later."""
    try:
        return preflight_checks.read_engine(client, settings.images["python"])
    except Exception as error:  # no image, no registry: the checks are advice, not a gate
        print(f"lab: could not read the engine's limits ({type(error).__name__})", file=sys.stderr)
        return None


def preflight(
    settings: LabSettings,
    *,
    client_factory: Callable[[], Any] | None = None,
    read_engine: Callable[[Any, LabSettings], Any] = engine_facts,
    warn: Callable[[str], None] = lambda line: print(f"lab: {line}", file=sys.stderr),
) -> None:
    """Checks read where the containers will run, not on this machine (issue 20)."""
    client = check_docker(client_factory)
    facts = read_engine(client, settings)
    if facts is not None:
        preflight_checks.check_max_map_count(settings.logs, facts)
        preflight_checks.check_disk(settings.logs, facts, warn)
        available = facts.memory_available_mb or facts.memory_total_mb
        check_memory(settings, available, lab_memory_in_use_mb(client), facts.platform)
    if warning := engine_warning(settings, engine_version(client)):
        warn(warning)


def run(command: str, *, keep_data: bool = False) -> int:
    if command not in COMMANDS:
        raise LabError(f"unknown command {command!r}: use {', '.join(COMMANDS)}")
    settings = None if command == "down" else automation.stack_settings()
    automation.check_secrets()  # before anything is written: passphrase and secure values
    stack = automation.select_stack()  # the CLI check comes first: nothing works without it
    printer = {"on_output": print}
    if command == "preview":
        check_docker()
        automation.ensure_secrets(stack)
        stack.preview(**printer)
    elif command == "up":
        preflight(settings)
        automation.ensure_secrets(stack)
        result = stack.up(**printer)
        for key, item in sorted(result.outputs.items()):
            print(f"{key:16} {'[secret]' if item.secret else item.value}")
    else:
        return down(stack, check_docker(), keep_data=keep_data)
    return 0


def down(stack: Any, client: Any, *, keep_data: bool) -> int:
    """`pulumi destroy`, which keeps the data volumes (retain_on_delete); then remove them by
    their labels, naming each, unless `keep_data`."""
    names = volumes.lab_volumes(client, automation.project_name(), automation.STACK)
    print(volumes.announce(names, keep=keep_data))
    stack.destroy(on_output=print)
    if keep_data or not names:
        return 0
    failed = volumes.remove(client, names)
    if failed:
        raise LabError(f"volumes still in use, not deleted: {', '.join(failed)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    keep_data = args[1:] == ["--keep-data"] and args[:1] == ["down"]
    if len(args) != 1 and not keep_data:
        print(
            f"usage: python -m lab.deploy {'|'.join(COMMANDS)} (down --keep-data)", file=sys.stderr
        )
        return 2
    try:
        return run(args[0], keep_data=keep_data)
    except (LabError, SettingsError) as error:
        print(f"lab: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # Pulumi's own failures: its output was already streamed
        if explained := automation.explain(error):
            print(f"lab: {explained}", file=sys.stderr)
            return 1
        last_line = (str(error).strip().splitlines() or [type(error).__name__])[-1]
        print(f"lab: {args[0]} failed: {last_line[:300]}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
