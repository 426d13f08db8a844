"""Every flag a declared Prometheus-project container gets parses in the real program: its
kingpin parser refuses an unknown or misspelt flag ("unknown long flag") and the container
would exit at start, which no rendered-config test sees. Debian's packaged binaries stand in
for the pinned images (same flag parser; tests/support/binaries.py)."""

from __future__ import annotations

import subprocess

import pytest

from tests.stack.captured import containers, declared_under
from tests.support.binaries import packaged_binary

# Container -> (what, Debian's binary, upstream's binary).
PROGRAMS = {
    "lab-dev-prometheus": ("Prometheus", "prometheus", "prometheus"),
    "lab-dev-alertmanager": ("Alertmanager", "prometheus-alertmanager", "alertmanager"),
    "lab-dev-node_exporter": ("node exporter", "prometheus-node-exporter", "node_exporter"),
    "lab-dev-blackbox": ("blackbox exporter", "prometheus-blackbox-exporter", "blackbox_exporter"),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_the_real_program_accepts_every_declared_flag(name):
    binary = packaged_binary(*PROGRAMS[name])
    command = containers(declared_under("default"))[name]["inputs"]["command"]
    assert all(arg.startswith("--") for arg in command), command
    # --help after the declared flags: kingpin parses them all first, then prints help.
    result = subprocess.run(
        [binary, *command, "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, f"{name}: {result.stderr.strip()[:500]}"


def test_the_node_exporter_reads_the_hosts_file_systems_where_they_are_bound():
    """prometheus/node_exporter collector/paths.go: --path.procfs, --path.sysfs and
    --path.rootfs default to the host's /proc, /sys and /; in a container each must point
    where that host path is bound, or every collector reads the container's own."""
    node = containers(declared_under("default"))["lab-dev-node_exporter"]["inputs"]
    flags = dict(arg.removeprefix("--").split("=", 1) for arg in node["command"])
    binds = {v["hostPath"]: v for v in node["volumes"]}
    for flag, host_path in (("path.procfs", "/proc"), ("path.sysfs", "/sys"), ("path.rootfs", "/")):
        assert flag in flags, f"--{flag} missing: the exporter reads the container's {host_path}"
        assert binds[host_path]["containerPath"] == flags[flag], (flag, binds[host_path])
        assert binds[host_path]["readOnly"] is True, binds[host_path]
