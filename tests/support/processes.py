"""Processes a test runs: `running()` starts one (lab.support.start) and waits until it is
ready; `stop_process` stops one a test started with subprocess.Popen (SIGTERM, then SIGKILL
after 10 s, and its pipe closed)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lab.support import NotReady, start, stop, wait_for_http


@contextmanager
def running(argv: list[str], ready_url: str, log_path: Path) -> Iterator[None]:
    """Run a program until the block ends; it must answer `ready_url` with a 200 first (its
    log's tail in the failure otherwise)."""
    child = start(Path(argv[0]).name, argv, log_path)
    try:
        try:
            wait_for_http(ready_url, timeout=30, process=child.process)
        except NotReady as error:
            pytest.fail(f"{error}\n{child.log_tail()}")
        yield
    finally:
        stop([child])


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> None:
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    if process.stdout:
        process.stdout.close()
