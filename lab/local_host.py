"""node-exporter for `make local`: the host's CPU, memory, disks and network, as in the stack.

LocalLab runs Debian's binary when installed, so the overview's Host row is proved against
real host metrics without Docker. On the host itself the root is `/`, so the mount points it
reports are the ones the stack's container reports from `--path.rootfs=/host/root`.
"""

from __future__ import annotations

import shutil

# Debian names the binary after its package; upstream's release calls it node_exporter.
BINARIES = ("prometheus-node-exporter", "node_exporter")
# The stack's job name for it (stack/monitoring.py NODE_JOB; lab/ may not import components).
JOB = "node"
# Debian's package turns on the systemd collector and a textfile directory that upstream's
# image does not have (images/node-exporter/node_exporter.sh resets the same two).
UPSTREAM_DEFAULTS = ("--no-collector.systemd", "--collector.textfile.directory=")


def exporter_path() -> str | None:
    return next(filter(None, map(shutil.which, BINARIES)), None)


def start(lab, port: int) -> list[dict]:
    """Spawn node-exporter as one of `lab`'s children (a LocalLab); its Prometheus job."""
    binary = exporter_path()
    if binary is None:
        return []
    lab._spawn(JOB, [binary, *UPSTREAM_DEFAULTS, f"--web.listen-address=127.0.0.1:{port}"])
    return [{"job_name": JOB, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]
