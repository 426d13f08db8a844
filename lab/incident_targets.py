"""Where a drill acts: the processes of `make local` or the containers of the Docker lab.

Both answer the same questions (which replicas, which parts, where Prometheus is) and take the
same actions: send a signal, halt, resume. A halted local process is frozen (SIGSTOP): it keeps
its port and answers nothing, as a wedged process does, and SIGCONT brings it back exactly; a
halted container is stopped and started again. Every undo is idempotent, so `stop` can repeat
it after a crash without knowing how far `start` got.
"""

from __future__ import annotations

import functools
import json
import os
import signal
from pathlib import Path

from lab.local import MANIFEST
from lab.support import BUILD_DIR, LabError
from stack.configs import web_config

LOCAL_MANIFEST = BUILD_DIR / "local" / MANIFEST


class LocalTargets:
    """`make local`'s processes, from the manifest LocalLab writes once they all answer."""

    kind = "local"

    def __init__(self, manifest: Path = LOCAL_MANIFEST) -> None:
        try:
            document = json.loads(manifest.read_text())
        except (OSError, ValueError):
            raise LabError(f"no running `make local` lab ({manifest} is missing)") from None
        self.pids: dict[str, int] = document["pids"]
        self.urls: dict[str, str | None] = document["urls"]
        gone = [name for name, pid in self.pids.items() if not _alive(pid)]
        if gone:
            raise LabError(f"the `make local` lab is not running ({', '.join(gone)} gone)")

    @property
    def prometheus_url(self) -> str | None:
        return self.urls.get("prometheus")

    alertmanager_url = None
    prometheus_auth = None  # `make local`'s Prometheus runs on loopback without a login

    @property
    def api_url(self) -> str:
        return self.urls["api"]

    def parts(self) -> set[str]:
        return set(self.pids)

    def replicas(self, function: str) -> list[str]:
        return sorted(name for name in self.pids if name.rsplit("-", 1)[0] == function)

    def send(self, target: str, signum: int) -> None:
        os.kill(self.pids[target], signum)

    def halt(self, target: str) -> None:
        os.kill(self.pids[target], signal.SIGSTOP)

    pause = halt

    def resume(self, target: str) -> None:
        os.kill(self.pids[target], signal.SIGCONT)

    def running(self, target: str) -> bool:
        return _state(self.pids[target]) not in ("T", "t", None)


def _alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z", "X")


def _state(pid: int) -> str | None:
    """proc(5) /proc/<pid>/stat's third field: R, S, T (stopped), Z (zombie), ..."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


class DockerTargets:
    """The Docker lab's containers, found by the labels every part carries (stack/containers.py)."""

    kind = "docker"

    def __init__(self, client, project: str, stack: str, urls: dict[str, str | None]) -> None:
        self.client = client
        self.filters = {"label": [f"lab.project={project}", f"lab.stack={stack}"]}
        found = client.containers.list(all=True, filters=self.filters)
        if not found:
            raise LabError(f"no Docker lab is deployed (no container labelled {self.filters})")
        parts = [c for c in found if "lab.part" in c.labels]
        self.containers = {c.labels["lab.part"]: c.name for c in parts}
        self.functions = {c.labels["lab.part"]: c.labels.get("lab.function") for c in parts}
        self.urls = urls

    @property
    def prometheus_url(self) -> str | None:
        return self.urls.get("prometheus") if "prometheus" in self.containers else None

    @property
    def alertmanager_url(self) -> str | None:
        return self.urls.get("alertmanager") if "alertmanager" in self.containers else None

    @functools.cached_property
    def prometheus_auth(self) -> tuple[str, str] | None:
        """The person's login to Prometheus and Alertmanager (their web config: `admin` with
        lab:traefikAdminPassword), read from the stack's secrets; None when unreadable."""
        from lab import credentials  # the stack's secret config, only when a drill needs it

        values, _why_not = credentials.read_secrets(["traefikAdminPassword"])
        password = values.get("traefikAdminPassword")
        return (web_config.ADMIN_USER, password) if password else None

    @property
    def api_url(self) -> str:
        return self.urls["api"]

    def parts(self) -> set[str]:
        return set(self.containers)

    def replicas(self, function: str) -> list[str]:
        return sorted(part for part, f in self.functions.items() if f == function)

    def _container(self, target: str):
        return self.client.containers.get(self.containers[target])

    def send(self, target: str, signum: int) -> None:
        self._container(target).kill(signal=int(signum))

    def halt(self, target: str) -> None:
        self._container(target).stop()

    def pause(self, target: str) -> None:
        container = self._container(target)
        if container.status != "paused":
            container.pause()

    def resume(self, target: str) -> None:
        container = self._container(target)
        if container.status == "paused":
            container.unpause()
        elif container.status != "running":
            container.start()

    def running(self, target: str) -> bool:
        return self._container(target).status == "running"
