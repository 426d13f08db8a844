"""What `make up` checks where the containers will run, through the Docker daemon: the engine's
memory, its kernel's vm.max_map_count and the free disk where its volumes live. With
DOCKER_HOST pointing at another machine, or the engine in a VM (Docker Desktop, WSL), this
machine's /proc says nothing about them; the daemon's `info` and a one-shot container do.

Each refusal names the value read, what the part needs and the fix for the engine's platform
(Linux, Docker Desktop on macOS/Windows, WSL).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.support import LabError

MIN_MAX_MAP_COUNT = 262144  # Elasticsearch's bootstrap check (docs: vm.max_map_count)
# Elasticsearch's disk watermarks, used-disk percentages of the data path's file system, by
# default (elastic/elasticsearch 8.19 server/.../routing/allocation/DiskThresholdSettings.java:
# cluster.routing.allocation.disk.watermark.low "85%", .high "90%", .flood_stage "95%"). Above
# high, a new index's primary shard is not assigned on the node: the security index stays
# unassigned and the security step fails, on a green, empty cluster (issue 23).
WATERMARK_LOW_PERCENT = 85
WATERMARK_HIGH_PERCENT = 90
WATERMARK_FLOOD_PERCENT = 95
PROBE_MOUNT = "/lab-probe"
# Read inside a container: vm.* sysctls are not namespaced, /proc/meminfo is the kernel's, and
# an anonymous volume sits on the file system of the engine's volumes.
PROBE_SCRIPT = (
    "cat /proc/sys/vm/max_map_count; grep '^MemAvailable:' /proc/meminfo; "
    f"df -Pk {PROBE_MOUNT} | tail -n 1"
)
PLATFORMS = ("linux", "desktop", "wsl")


@dataclass(frozen=True)
class EngineFacts:
    """What the daemon and a one-shot container report about the engine's machine."""

    platform: str  # linux, desktop (Docker Desktop on macOS or Windows) or wsl
    memory_total_mb: int | None = None
    memory_available_mb: int | None = None
    max_map_count: int | None = None
    disk_total_kb: int | None = None
    disk_available_kb: int | None = None
    root_dir: str = ""

    @property
    def disk_used_percent(self) -> float | None:
        """Used disk as Elasticsearch counts it: 100 - available/total (the space a non-root
        process can still use, as FsProbe's usable space)."""
        if not self.disk_total_kb or self.disk_available_kb is None:
            return None
        return 100.0 - 100.0 * self.disk_available_kb / self.disk_total_kb


def platform_of(info: dict) -> str:
    """Docker Desktop says so in OperatingSystem; a WSL 2 kernel names Microsoft in its
    version; anything else is a Linux engine."""
    if "docker desktop" in str(info.get("OperatingSystem", "")).lower():
        return "desktop"
    if "microsoft" in str(info.get("KernelVersion", "")).lower():
        return "wsl"
    return "linux"


def parse_probe(output: str) -> dict[str, int]:
    """The probe's three answers: max_map_count, MemAvailable (kB) and the df -Pk line."""
    found: dict[str, int] = {}
    for line in output.splitlines():
        line = line.strip()
        if re.fullmatch(r"\d+", line):
            found["max_map_count"] = int(line)
        elif line.startswith("MemAvailable:"):
            found["memory_available_kb"] = int(line.split()[1])
        elif line.endswith(PROBE_MOUNT):
            # Filesystem 1024-blocks Used Available Capacity Mounted-on (POSIX df -P).
            fields = line.split()
            found["disk_total_kb"], found["disk_available_kb"] = int(fields[1]), int(fields[3])
    return found


def read_engine(client: Any, image: str) -> EngineFacts:
    """`docker info` and one `--rm` container of `image` (one the lab pulls anyway) with an
    anonymous volume (removed with it), without a network."""
    from docker.types import Mount

    info = client.info()
    output = client.containers.run(
        image,
        ["sh", "-c", PROBE_SCRIPT],
        entrypoint=[],
        mounts=[Mount(PROBE_MOUNT, None, type="volume")],
        network_disabled=True,
        remove=True,
        labels={"lab.part": "preflight"},
    )
    probe = parse_probe(output.decode(errors="replace") if isinstance(output, bytes) else output)
    total = info.get("MemTotal")
    available = probe.get("memory_available_kb")
    return EngineFacts(
        platform=platform_of(info),
        memory_total_mb=int(total) // (1024 * 1024) if total else None,
        memory_available_mb=available // 1024 if available is not None else None,
        max_map_count=probe.get("max_map_count"),
        disk_total_kb=probe.get("disk_total_kb"),
        disk_available_kb=probe.get("disk_available_kb"),
        root_dir=str(info.get("DockerRootDir", "")),
    )


FIXES = {
    "max_map_count": {
        "linux": f"`sudo sysctl -w vm.max_map_count={MIN_MAX_MAP_COUNT}` and persist it in"
        " /etc/sysctl.d/99-lab.conf",
        "desktop": "Docker Desktop runs the engine in a VM, set it there:"
        f" `docker run --rm --privileged alpine sysctl -w vm.max_map_count={MIN_MAX_MAP_COUNT}`"
        " (again after each Docker Desktop restart)",
        "wsl": f"in the WSL distribution `sudo sysctl -w vm.max_map_count={MIN_MAX_MAP_COUNT}`;"
        " to keep it, add `kernelCommandLine = sysctl.vm.max_map_count="
        f"{MIN_MAX_MAP_COUNT}` under [wsl2] in %UserProfile%\\.wslconfig and run `wsl --shutdown`",
    },
    "memory": {
        "linux": "stop other containers or programs",
        "desktop": "raise Docker Desktop's Settings > Resources > Memory limit",
        "wsl": "raise `memory=` under [wsl2] in %UserProfile%\\.wslconfig, then `wsl --shutdown`",
    },
    "disk": {
        "linux": "free space on that file system (`docker system df`, `docker system prune`)",
        "desktop": "`docker system prune`, or raise Settings > Resources > Disk usage limit",
        "wsl": "`docker system prune`, or free space on the Windows drive that holds the WSL"
        " disk image",
    },
}


def fix(problem: str, platform: str) -> str:
    """The fix for this engine's platform first, then the other platforms' (the guess from
    `docker info` can be wrong behind a remote DOCKER_HOST)."""
    fixes = FIXES[problem]
    label = {"linux": "Linux", "desktop": "Docker Desktop (macOS/Windows)", "wsl": "WSL"}
    ordered = [platform, *(p for p in PLATFORMS if p != platform)]
    return "; ".join(f"{label[p]}: {fixes[p]}" for p in ordered)


def check_max_map_count(logs: bool, facts: EngineFacts) -> None:
    if not logs or facts.max_map_count is None or facts.max_map_count >= MIN_MAX_MAP_COUNT:
        return
    raise LabError(
        f"vm.max_map_count is {facts.max_map_count} where the containers run, Elasticsearch"
        f" needs {MIN_MAX_MAP_COUNT}. Fix: {fix('max_map_count', facts.platform)}; or set"
        " lab:logs to false"
    )


def check_disk(logs: bool, facts: EngineFacts, warn: Callable[[str], None]) -> None:
    """Refuse above Elasticsearch's high watermark, warn above the low one."""
    used = facts.disk_used_percent
    if not logs or used is None:
        return
    where = f"the disk of the engine's volumes ({facts.root_dir or 'Docker root'})"
    free_gb = (facts.disk_available_kb or 0) / 1024 / 1024
    if used > WATERMARK_HIGH_PERCENT:
        raise LabError(
            f"{where} is {used:.0f}% used ({free_gb:.1f} GB free): above Elasticsearch's high"
            f" disk watermark ({WATERMARK_HIGH_PERCENT}%) its security index is never"
            f" assigned and the lab cannot start. Fix: {fix('disk', facts.platform)}; or set"
            " lab:logs to false"
        )
    if used > WATERMARK_LOW_PERCENT:
        warn(
            f"warning: {where} is {used:.0f}% used: above Elasticsearch's low disk watermark"
            f" ({WATERMARK_LOW_PERCENT}%) no replica is placed, and at"
            f" {WATERMARK_HIGH_PERCENT}% new indices stop. {fix('disk', facts.platform)}"
        )


def memory_fix(platform: str) -> str:
    return fix("memory", platform)
