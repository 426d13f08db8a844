"""The preflight reads the engine's machine through the daemon (lab/preflight.py; issue 20
"Preflight through the daemon", issue 23 "Also": disk where the data volumes live).

Unit tests answer as a daemon would (tests/lab/test_deploy.py FakeDocker); one live test reads
the real daemon, whose machine here is this one, so the kernel's own files and statvfs are
the independent expectation.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from lab import deploy, preflight
from lab.support import LabError
from stack.settings import LabSettings
from tests.lab.test_deploy import FakeDocker

DEFAULTS = LabSettings()
# Elasticsearch's default disk watermarks, as its docs state them ("Disk-based shard allocation
# settings": low 85%, high 90%, flood_stage 95%) and DiskThresholdSettings.java defaults.
LOW, HIGH = 85, 90
TOTAL_KB = 100_000_000


def disk(used_percent: float) -> tuple[int, int]:
    return TOTAL_KB, int(TOTAL_KB * (100 - used_percent) / 100)


def run(settings=DEFAULTS, **daemon) -> list[str]:
    warnings: list[str] = []
    deploy.preflight(settings, client_factory=lambda: FakeDocker(**daemon), warn=warnings.append)
    return warnings


def test_the_probe_runs_once_in_the_labs_own_base_image_and_leaves_nothing():
    daemon = FakeDocker()
    deploy.preflight(DEFAULTS, client_factory=lambda: daemon, warn=lambda line: None)
    (probe,) = daemon.runs
    assert probe["image"] == DEFAULTS.images["python"]
    assert probe["remove"] is True
    assert probe["network_disabled"] is True
    (mount,) = probe["mounts"]
    assert mount["Type"] == "volume"
    assert not mount.get("Source"), "an anonymous volume, removed with the container"


def test_a_low_max_map_count_on_the_engine_is_refused_whatever_this_machine_says():
    with pytest.raises(LabError, match=r"vm.max_map_count is 65530 where the containers run"):
        run(max_map_count=65530)


@pytest.mark.parametrize(
    ("used", "refused", "warned"),
    [(50, False, False), (LOW + 1, False, True), (HIGH + 1, True, False), (99, True, False)],
)
def test_disk_above_elasticsearchs_high_watermark_is_refused_above_low_warned(
    used, refused, warned
):
    if refused:
        with pytest.raises(LabError, match=f"high disk watermark \\({HIGH}%\\)") as error:
            run(disk_kb=disk(used))
        assert "lab:logs to false" in str(error.value)
        return
    warnings = run(disk_kb=disk(used))
    assert any(f"low disk watermark ({LOW}%)" in line for line in warnings) is warned, warnings


def test_without_the_elastic_stack_neither_disk_nor_max_map_count_matter():
    no_logs = dataclasses.replace(DEFAULTS, logs=False)
    assert run(no_logs, disk_kb=disk(99), max_map_count=1) == []


@pytest.mark.parametrize(
    ("operating_system", "kernel", "first"),
    [
        ("Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64", "Linux: `sudo sysctl"),
        ("Docker Desktop", "6.10.14-linuxkit", "Docker Desktop (macOS/Windows): Docker Desktop"),
        ("Ubuntu 22.04.4 LTS", "5.15.153.1-microsoft-standard-WSL2", "WSL: in the WSL"),
    ],
)
def test_the_fix_for_the_engines_platform_comes_first_and_every_platform_is_named(
    operating_system, kernel, first
):
    with pytest.raises(LabError) as error:
        run(max_map_count=65530, operating_system=operating_system, kernel=kernel)
    message = str(error.value)
    print(f"\n{message}")
    assert message.split("Fix: ", 1)[1].startswith(first), message
    for platform in ("Linux:", "Docker Desktop (macOS/Windows):", "WSL:"):
        assert platform in message


def test_memory_is_the_engines_and_its_fix_names_the_platform():
    with pytest.raises(LabError, match=r"where the containers run.*Settings > Resources > Memory"):
        run(available_kb=1_000_000, operating_system="Docker Desktop")


def test_the_probe_output_of_a_real_shell_parses():
    """The three lines as Debian's coreutils df -P and procps print them."""
    found = preflight.parse_probe(
        "262144\nMemAvailable:    7712340 kB\n"
        "overlay          61255492  41337156  16776992      72% /lab-probe\n"
    )
    assert found == {
        "max_map_count": 262144,
        "memory_available_kb": 7712340,
        "disk_total_kb": 61255492,
        "disk_available_kb": 16776992,
    }


@pytest.mark.live
def test_the_real_daemon_reports_this_machines_kernel_and_disk(docker_client, standin_image):
    """Here the engine runs on this machine: what the daemon and the probe say must be what
    this kernel says (its /proc) and what statvfs says of the engine's volumes directory."""
    image = standin_image("lab-standin/python:3.11")
    facts = preflight.read_engine(docker_client, image)
    with open("/proc/sys/vm/max_map_count") as sysctl:
        assert facts.max_map_count == int(sysctl.read())
    with open("/proc/meminfo") as meminfo:
        total_kb = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    assert facts.memory_total_mb == total_kb * 1024 // (1024 * 1024)
    assert facts.memory_available_mb is not None
    assert 0 < facts.memory_available_mb <= facts.memory_total_mb
    stat = os.statvfs(os.path.join(facts.root_dir, "volumes"))
    assert facts.disk_total_kb == stat.f_blocks * stat.f_frsize // 1024
    # Free space moves while others write: within 1% of the disk.
    assert abs(facts.disk_available_kb - stat.f_bavail * stat.f_frsize // 1024) < (
        facts.disk_total_kb / 100
    )
    leftover = docker_client.containers.list(all=True, filters={"label": "lab.part=preflight"})
    assert leftover == []
    print(f"\nengine facts: {facts}, {facts.disk_used_percent:.0f}% used")
