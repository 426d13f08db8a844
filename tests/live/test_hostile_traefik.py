"""Hostile load through Traefik on the harness-applied stack (issue 14): 2,000 idle and 2,000
keep-alive connections, 200 slow heads, a 45 MB body and a 70 KB header. Traefik neither dies
nor wedges (same process, still healthy), normal calls keep answering (p50/p99 printed per
attack), its memory stays under its limit, and the refusals are counted in its metrics.
"""

from __future__ import annotations

import re
import socket
import statistics
import threading
import time
from collections import Counter
from contextlib import ExitStack
from urllib.parse import urlsplit

import pytest
import requests

from app.contract import sample_path
from tests.support.live_lab import LiveLab

pytestmark = [pytest.mark.live, pytest.mark.slow]
HOLD_SECONDS = 3.0


@pytest.fixture
def harness_lab(lab: LiveLab) -> LiveLab:
    if lab.harness is None:
        pytest.skip("hostile load only runs on the harness-applied stack")
    return lab


def _calls(url: str, count: int = 40) -> tuple[list[float], list[int]]:
    times, statuses = [], []
    with requests.Session() as session:
        for _ in range(count):
            started = time.monotonic()
            try:
                statuses.append(session.get(url, timeout=10).status_code)
            except requests.RequestException:
                statuses.append(0)
            times.append(time.monotonic() - started)
    return times, statuses


def _connections(
    address: tuple[str, int], count: int, first_bytes: bytes, *, answered: bool = False
) -> ExitStack:
    """`count` connections that sent `first_bytes`; with `answered`, each has read its answer
    and is held open idle (keep-alive), so the calls measured next are not queued behind them."""
    stack = ExitStack()
    connections = []
    for _ in range(count):
        connection = stack.enter_context(socket.create_connection(address, timeout=10))
        if first_bytes:
            connection.sendall(first_bytes)
        connections.append(connection)
    if answered:
        # All from one address at once: past the in-flight cap per client, Traefik answers 429.
        codes = Counter(c.recv(4096)[9:12].decode() for c in connections)
        print(f"\n{count} keep-alive requests at once answered {dict(codes)}")
        assert set(codes) <= {"200", "429"}, codes
        assert codes["200"] > 0, codes
    return stack


class MemoryWatch:
    """docker stats samples of one container while an attack runs; keeps the highest."""

    def __init__(self, container) -> None:
        self.container, self.peak, self.limit = container, 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            stats = self.container.stats(stream=False)["memory_stats"]
            self.peak = max(self.peak, stats.get("usage", 0))
            self.limit = stats.get("limit", 0)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def _counter(metrics_url: str, pattern: str) -> float:
    text = requests.get(metrics_url, timeout=5).text
    return sum(float(v) for v in re.findall(rf"^{pattern}\S* ([0-9.e+]+)$", text, re.M))


def test_traefik_survives_hostile_clients(harness_lab: LiveLab):
    lab = harness_lab
    api = lab.url("api")
    host, port = urlsplit(api).hostname, urlsplit(api).port
    normal = api + sample_path("fibonacci")
    metrics = lab.url("traefik") + "/metrics"
    container = lab.client.containers.get(lab.the_container("traefik"))
    started_at = container.attrs["State"]["StartedAt"]
    head = f"GET {sample_path('fibonacci')} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
    refused_before = _counter(metrics, r'traefik_entrypoint_requests_total\{code="4(?:13|29)"')

    def under(name: str, attack) -> None:
        with MemoryWatch(container) as memory, attack():
            time.sleep(HOLD_SECONDS / 3)
            times, statuses = _calls(normal)
        p50 = statistics.median(times) * 1000
        p99 = sorted(times)[int(len(times) * 0.99) - 1] * 1000
        print(
            f"\n{name}: normal calls {statuses.count(200)}/{len(statuses)} ok, "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms; traefik memory peak "
            f"{memory.peak / 2**20:.0f} of {memory.limit / 2**20:.0f} MiB"
        )
        assert statuses.count(200) == len(statuses), (name, statuses)
        assert memory.peak < memory.limit, name

    under("2,000 idle connections", lambda: _connections((host, port), 2000, b""))
    under(
        "2,000 keep-alive", lambda: _connections((host, port), 2000, head + b"\r\n", answered=True)
    )
    under("200 slow heads", lambda: _connections((host, port), 200, head + b"X-Slow: 1"))

    def big_body():
        stack = ExitStack()
        answer = requests.post(normal, data=b"x" * 45_000_000, timeout=30)
        assert answer.status_code == 413, answer.status_code
        return stack

    under("45 MB body", big_body)

    def big_header():
        stack = ExitStack()
        answer = requests.get(normal, headers={"X-Big": "x" * 70_000}, timeout=10)
        assert 400 <= answer.status_code < 500, answer.status_code
        return stack

    under("70 KB header", big_header)

    container.reload()
    assert container.attrs["State"]["StartedAt"] == started_at, "traefik was restarted"
    assert container.attrs["State"]["Health"]["Status"] == "healthy"
    refused = (
        _counter(metrics, r'traefik_entrypoint_requests_total\{code="4(?:13|29)"') - refused_before
    )
    print(
        # Its 431 is answered by Go's server before any router, so no metric counts it.
        f"refusals counted by traefik (413 body, 429 in flight): {refused:.0f}"
    )
    assert refused >= 2  # the 45 MB body and at least one 429
