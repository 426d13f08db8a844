"""A function replica as a real process, and raw-socket clients to attack it with: the
support of tests/app/test_limits.py."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from app.contract import REJECTED_TOTAL
from lab.support import REPO_ROOT, free_port, wait_for_http
from stack.settings import MEMORY_MB
from tests.support.ecs_fields import flatten

MB = 1 << 20
# What a function replica's container may use (the lab's default `lab:memoryMb.function`).
REPLICA_MEMORY_MB = MEMORY_MB["function"]
HEAD = "GET /fibonacci/10/ HTTP/1.1\r\nHost: lab\r\n"


@dataclass
class Replica:
    process: subprocess.Popen
    port: int
    log: Path

    def rejected(self) -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return {
            sample.labels["reason"]: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == REJECTED_TOTAL
        }

    def status_kb(self, field: str) -> int:
        """A memory figure of /proc/<pid>/status (VmRSS, VmHWM = peak RSS), in kB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/{self.process.pid}/status")

    def peak_mb(self) -> float:
        return self.status_kb("VmHWM") / 1024

    def sockets(self) -> int:
        count = 0
        for fd in Path(f"/proc/{self.process.pid}/fd").iterdir():
            with contextlib.suppress(FileNotFoundError):  # closed while listed
                count += os.readlink(fd).startswith("socket:")
        return count

    def lines(self) -> list[dict]:
        return [flatten(json.loads(line)) for line in self.log.read_text().splitlines()]

    def reason_lines(self, reason: str) -> list[dict]:
        return [line for line in self.lines() if line.get("event.reason") == reason]


@contextlib.contextmanager
def replica(tmp_path_factory, **env: str) -> Iterator[Replica]:
    port = free_port()
    log = tmp_path_factory.mktemp("replica") / "stdout.jsonl"
    with log.open("wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "--function", "fibonacci", "--port", str(port)],
            cwd=REPO_ROOT,
            env={**os.environ, "LAB_DRAIN_SECONDS": "0", **env},
            stdout=stdout,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", timeout=15, process=process)
        yield Replica(process, port, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()[-2000:]


def connect(port: int, timeout: float = 10) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return sock


def read_all(sock: socket.socket) -> tuple[bytes, float | None]:
    """Everything the server sends until it closes, and when its first byte came."""
    data, first = b"", None
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536):
            first = first or time.monotonic()
            data += chunk
    return data, first


def status_of(answer: bytes) -> int | None:
    parts = answer.split(b" ", 2)
    return int(parts[1]) if answer.startswith(b"HTTP/1.") and len(parts) > 1 else None


def normal_calls(port: int, count: int = 40) -> list[float]:
    """Latencies (ms) of `count` fresh-connection calls, each asserted to answer 200."""
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/fibonacci/10/", timeout=5) as r:
            assert r.status == 200
            assert json.loads(r.read())["result"] == "55"
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def percentiles(latencies: list[float]) -> str:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return f"normal calls p50 {cuts[49]:.1f} ms, p99 {cuts[98]:.1f} ms ({len(latencies)})"


def while_attacking(attack: Callable[[], None], port: int) -> str:
    """Run `attack` in a thread while normal calls are measured; their percentiles."""
    attacker = threading.Thread(target=attack)
    attacker.start()
    try:
        return percentiles(normal_calls(port))
    finally:
        attacker.join(timeout=30)


def refused_head(port: int, head: bytes) -> bytes:
    sock = connect(port)
    with contextlib.suppress(OSError):
        sock.sendall(head)
    answer, _ = read_all(sock)
    sock.close()
    return answer


def first_status(port: int, data: bytes) -> int | None:
    """The status of the first answer to `data`, or None if the server closed unanswered."""
    sock = connect(port, timeout=5)
    answer = b""
    with contextlib.suppress(OSError):
        sock.sendall(data)
        while b"\r\n" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
    sock.close()
    return status_of(answer)
