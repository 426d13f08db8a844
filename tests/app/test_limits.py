"""Hostile load against one replica (`python -m app`, real sockets): huge, chunked and slow
bodies, slow and oversized heads, thousands of idle connections, malformed requests. Each
case prints its outcome and asserts it: the refusal, its count, its ECS line, the replica's
peak memory, and that normal calls keep answering (their p50/p99 while under attack)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.support import wait_until
from tests.app.replica import (
    HEAD,
    MB,
    REPLICA_MEMORY_MB,
    Replica,
    connect,
    first_status,
    normal_calls,
    percentiles,
    read_all,
    refused_head,
    replica,
    status_of,
    while_attacking,
)

# Short timeouts, so each case takes seconds.
TIGHT = {
    "LAB_HEADER_TIMEOUT_SECONDS": "1",
    "LAB_BODY_TIMEOUT_SECONDS": "1",
    "LAB_IDLE_TIMEOUT_SECONDS": "2",
}


@pytest.fixture(scope="module")
def tight(tmp_path_factory) -> Iterator[Replica]:
    with replica(tmp_path_factory, **TIGHT) as running:
        yield running


def big_body(port: int, size: int, chunked: bool = False) -> tuple[int | None, float, int]:
    """A GET with a `size`-byte body sent as fast as the server takes it, read meanwhile:
    (status, seconds until the answer began, bytes the server took before closing)."""
    sock = connect(port)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    sent = [0]

    def pump() -> None:
        block = b"x" * MB
        with contextlib.suppress(OSError):
            sock.sendall(f"{HEAD}{framing}\r\n\r\n".encode())
            while sent[0] < size:
                piece = block[: min(MB, size - sent[0])]
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
                sent[0] += len(piece)

    started = time.monotonic()
    sender = threading.Thread(target=pump)
    sender.start()
    answer, first = read_all(sock)
    sock.close()
    sender.join(timeout=30)
    return status_of(answer), (first or time.monotonic()) - started, sent[0]


@pytest.mark.parametrize("size_mb", [45, 90])
def test_a_huge_body_is_a_413_at_once_and_memory_stays_flat(tight, size_mb):
    before = tight.rejected()["body_too_large"]
    results: list[tuple[int | None, float, int]] = []

    def four_bodies() -> None:
        threads = [
            threading.Thread(target=lambda: results.append(big_body(tight.port, size_mb * MB)))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    normal = while_attacking(four_bodies, tight.port)
    statuses = [status for status, _, _ in results]
    slowest = max(seconds for _, seconds, _ in results)
    taken = max(sent for _, _, sent in results) / MB
    peak = tight.peak_mb()
    print(
        f"\n4 x {size_mb} MB bodies: {statuses}, answered within {slowest * 1000:.0f} ms, "
        f"at most {taken:.1f} MB taken before the close; replica peak RSS {peak:.1f} MB "
        f"(limit {REPLICA_MEMORY_MB} MB); {normal}"
    )
    assert statuses == [413] * 4
    assert slowest < 1.0
    assert peak < REPLICA_MEMORY_MB / 2
    assert tight.rejected()["body_too_large"] == before + 4
    [line, *_] = tight.reason_lines("body_too_large")
    assert (line["http.response.status_code"], line["url.path"]) == (413, "/fibonacci/10/")
    assert line["event.dataset"] == "lab.access"


def test_a_chunked_body_is_a_413_before_any_of_it_is_read(tight):
    before = tight.rejected()["body_too_large"]
    status, seconds, _ = big_body(tight.port, 20 * MB, chunked=True)
    print(f"\nchunked 20 MB body: {status} after {seconds * 1000:.0f} ms")
    assert status == 413
    assert tight.rejected()["body_too_large"] == before + 1


def slow_body(port: int, declared: int) -> tuple[bytes, float]:
    """A head declaring `declared` body bytes, then one byte a second: (answer, seconds until
    the server answered or closed)."""
    sock = connect(port)
    sock.sendall(f"{HEAD}Content-Length: {declared}\r\n\r\n".encode())
    started = time.monotonic()
    stop = threading.Event()

    def drip() -> None:
        with contextlib.suppress(OSError):
            while not stop.wait(1.0):
                sock.sendall(b"x")

    dripper = threading.Thread(target=drip)
    dripper.start()
    answer, _ = read_all(sock)
    elapsed = time.monotonic() - started
    stop.set()
    dripper.join()
    sock.close()
    return answer, elapsed


def test_a_slow_body_is_cut_off_within_the_body_timeout(tight):
    before = tight.rejected()
    big_answer, big_seconds = slow_body(tight.port, 50 * MB)
    small_answer, small_seconds = slow_body(tight.port, 32)
    after = tight.rejected()
    print(
        f"\nslow body, 50 MB declared at 1 byte/s: {status_of(big_answer)} after "
        f"{big_seconds:.2f} s; 32 bytes declared at 1 byte/s: closed after {small_seconds:.2f} s "
        f"(body timeout {TIGHT['LAB_BODY_TIMEOUT_SECONDS']} s)"
    )
    assert status_of(big_answer) == 413
    assert big_seconds < 0.5
    assert small_answer == b""
    assert 0.9 <= small_seconds < 2.5
    assert after["body_too_large"] == before["body_too_large"] + 1
    assert after["body_timeout"] == before["body_timeout"] + 1
    [line] = tight.reason_lines("body_timeout")
    assert "http.response.status_code" not in line


def test_slow_heads_on_200_connections_are_closed_at_the_header_timeout(tight):
    before = tight.rejected()["header_timeout"]
    socks = [connect(tight.port) for _ in range(200)]
    opened = time.monotonic()
    closed_at: dict[int, float] = {}

    def drip() -> None:
        # One more byte of the head on each connection every 0.3 s: never a complete head.
        for sock in socks:
            sock.sendall(HEAD.encode())
        while len(closed_at) < len(socks) and time.monotonic() - opened < 10:
            for index, sock in enumerate(socks):
                if index not in closed_at:
                    try:
                        sock.sendall(b"X")
                        sock.setblocking(False)
                        if sock.recv(1) == b"":
                            closed_at[index] = time.monotonic() - opened
                    except BlockingIOError:
                        pass
                    except OSError:
                        closed_at[index] = time.monotonic() - opened
                    finally:
                        sock.setblocking(True)
            time.sleep(0.3)

    normal = while_attacking(drip, tight.port)
    for sock in socks:
        sock.close()
    latest = max(closed_at.values(), default=float("inf"))
    print(
        f"\n200 slow heads: {len(closed_at)} closed by the server, the last after {latest:.2f} s "
        f"(header timeout {TIGHT['LAB_HEADER_TIMEOUT_SECONDS']} s); {normal}"
    )
    assert len(closed_at) == 200
    assert latest < 3.0
    assert tight.rejected()["header_timeout"] == before + 200
    assert len(tight.reason_lines("header_timeout")) >= 200


def test_a_keep_alive_connection_gets_the_idle_timeout_and_no_count(tight):
    before = tight.rejected()
    sock = connect(tight.port)
    request = f"{HEAD}\r\n".encode()
    for pause in (0, 1.5):  # the second pause is over the header timeout, under the idle one
        time.sleep(pause)
        sock.sendall(request)
        assert status_of(sock.recv(65536)) == 200
    started = time.monotonic()
    answer, _ = read_all(sock)
    idle = time.monotonic() - started
    sock.close()
    print(f"\nkeep-alive connection idle: closed after {idle:.2f} s, not counted")
    assert answer == b""
    assert 1.8 <= idle < 3.5
    assert tight.rejected() == before


def test_10000_headers_and_a_70kb_header_are_refused_and_counted(tight):
    before = tight.rejected()["headers_too_large"]
    many = refused_head(tight.port, (HEAD + "X-Many: 1\r\n" * 10_000 + "\r\n").encode())
    big = refused_head(tight.port, (HEAD + "X-Big: " + "a" * 70_000 + "\r\n\r\n").encode())
    counted = refused_head(tight.port, (HEAD + "X-Few: 1\r\n" * 150 + "\r\n").encode())
    print(
        f"\n10,000 headers: {status_of(many) or 'closed'}; a 70 KB header: "
        f"{status_of(big) or 'closed'}; 150 small headers: {status_of(counted)}"
    )
    # Over the head size Tornado stops reading and closes; over the count it answers 431.
    assert (status_of(many), status_of(big), status_of(counted)) == (None, None, 431)
    assert tight.rejected()["headers_too_large"] == before + 3
    assert {
        line.get("http.response.status_code") for line in tight.reason_lines("headers_too_large")
    } == {None, 431}


@pytest.mark.parametrize(
    "head",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /fibonacci/10/ HTTP/9\r\n\r\n",
        b"GET /fibonacci/10/ HTTP/1.1\r\nno colon here\r\n\r\n",
        b"GET /fibonacci/10/ HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
        b"GET /fibonacci/10/ HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n",
    ],
)
def test_a_request_the_parser_refuses_is_a_counted_400_with_an_ecs_line(tight, head):
    before = tight.rejected()["bad_request"]
    answer = refused_head(tight.port, head)
    assert status_of(answer) == 400
    assert tight.rejected()["bad_request"] == before + 1
    line = tight.reason_lines("bad_request")[-1]
    assert line["http.response.status_code"] == 400
    assert line["error.message"].startswith("malformed request")
    # Tornado's own plain-text line for it is gone: every line is one of the service's.
    assert all("event.dataset" in line for line in tight.lines())


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    head=st.one_of(
        st.binary(max_size=300),
        st.lists(st.sampled_from(["GET", "/fibonacci/1/", " ", "\r\n", ":", "HTTP/1.1", "\x00"]))
        .map("".join)
        .map(str.encode),
    )
)
def test_no_bytes_a_client_sends_get_a_5xx(tight, head):
    status = first_status(tight.port, head + b"\r\n\r\n")
    assert status is None or status < 500, head


@pytest.mark.parametrize("kind", ["fresh", "keep-alive"])
def test_2000_idle_connections_stay_within_the_cap_and_calls_still_answer(tmp_path_factory, kind):
    cap = 500
    env = {"LAB_MAX_CONNECTIONS": str(cap), "LAB_HEADER_TIMEOUT_SECONDS": "60"}
    with replica(tmp_path_factory, **env) as running:
        assert running.rejected()["too_many_connections"] == 0
        socks: list[socket.socket] = []

        def open_idle() -> None:
            for _ in range(2000):
                sock = connect(running.port)
                if kind == "keep-alive":  # one call, then the connection stays open, idle
                    sock.sendall(f"{HEAD}\r\n".encode())
                    sock.recv(65536)
                socks.append(sock)

        normal = while_attacking(open_idle, running.port)
        wait_until(
            lambda: running.rejected()["too_many_connections"] >= 2000 - cap,
            timeout=15,
            interval=0.2,
            what=f"{2000 - cap} connections closed for newer ones",
        )
        # The listening socket and the metrics read besides the capped connections. On a busy
        # machine a few connections accepted last are still being closed: wait for the count
        # to settle. Without the cap it stays near 2,000 and the wait fails.
        wait_until(
            lambda: running.sockets() <= cap + 2,
            timeout=15,
            interval=0.2,
            what=f"the replica holding at most {cap} connections",
        )
        held = running.sockets()
        peak = running.peak_mb()
        after = percentiles(normal_calls(running.port))
        for sock in socks:
            sock.close()
        print(
            f"\n2,000 idle {kind} connections, cap {cap}: the replica holds {held} sockets, "
            f"{running.rejected()['too_many_connections']:.0f} connections closed for newer "
            f"ones, peak RSS {peak:.1f} MB; during: {normal}; after: {after}"
        )
        assert held <= cap + 2
        assert peak < REPLICA_MEMORY_MB / 2
        assert running.reason_lines("too_many_connections")
