"""Stopping a process a test started with subprocess.Popen: SIGTERM, then SIGKILL after 10 s,
and its pipe closed."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> None:
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    if process.stdout:
        process.stdout.close()
