"""Processes a test runs: `running()` starts one (lab.support.start) and waits until it is
ready, `running_alertmanager()` a real Alertmanager on a config; `stop_process` stops one a test
started with subprocess.Popen (SIGTERM, then SIGKILL after 10 s, and its pipe closed)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lab.support import NotReady, free_port, start, stop, wait_for_http


@contextmanager
def running(
    argv: list[str], ready_url: str, log_path: Path, auth: tuple[str, str] | None = None
) -> Iterator[None]:
    """Run a program until the block ends; it must answer `ready_url` (asked with `auth`, a
    basic-auth login) with a 200 first (its log's tail in the failure otherwise)."""
    child = start(Path(argv[0]).name, argv, log_path)
    try:
        try:
            wait_for_http(ready_url, timeout=30, process=child.process, auth=auth)
        except NotReady as error:
            pytest.fail(f"{error}\n{child.log_tail()}")
        yield
    finally:
        stop([child])


@contextmanager
def running_alertmanager(binary: str, config: Path, directory: Path) -> Iterator[str]:
    """A real Alertmanager on `config`, its data and log under `directory`, alone (no gossip
    cluster to wait for before notifying); its URL once it is ready."""
    url = f"http://127.0.0.1:{free_port()}"
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.path={directory / 'data'}",
        f"--web.listen-address={url.removeprefix('http://')}",
        "--cluster.listen-address=",
    ]
    with running(argv, f"{url}/-/ready", directory / "alertmanager.log"):
        yield url


def stop_process(process: subprocess.Popen, grace: float = 10.0) -> None:
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    if process.stdout:
        process.stdout.close()
