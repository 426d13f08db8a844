"""lab/support.py: free ports of either kind (several at once without a repeat), waiting that
gives up on time or on a dead process, and stopping that leaves no process of a group behind."""

import socket
import sys

import pytest

from lab import support


def test_free_ports_are_free_for_tcp_and_udp():
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        port = support.free_port(kind)
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", port))


def test_free_ports_asked_together_are_all_different_and_free():
    # One by one, each probe closed before the next, the kernel hands a port out again: 300
    # picks that way held about 3 repeats here. A repeat made the program refuse the live
    # lab's config ("port ... is already taken by lab:ports.api").
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        ports = support.free_ports(300, kind)
        assert len(set(ports)) == len(ports)
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", ports[-1]))


def test_wait_until_counts_an_os_error_as_not_yet_and_gives_up_in_time():
    attempts = []

    def refused():
        attempts.append(1)
        raise ConnectionRefusedError

    with pytest.raises(support.NotReady, match=r"the port not met within 0\.3 s"):
        support.wait_until(refused, timeout=0.3, interval=0.05, what="the port")
    assert len(attempts) > 2


def test_wait_for_http_stops_as_soon_as_the_process_exits(tmp_path):
    child = support.start(
        "quitter", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "log"
    )
    url = f"http://127.0.0.1:{support.free_port()}/"
    with pytest.raises(support.NotReady, match="exited with 3"):
        support.wait_for_http(url, timeout=30, process=child.process)


def test_stop_ends_the_whole_process_group(tmp_path):
    # The child forks a grandchild that ignores SIGTERM; stop() must still leave nothing.
    script = (
        "import os, signal, time\n"
        "if os.fork() == 0:\n"
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "    print(os.getpid(), flush=True)\n"
        "time.sleep(60)\n"
    )
    child = support.start("parent", [sys.executable, "-c", script], tmp_path / "log")
    support.wait_until(lambda: child.log_path.read_text().strip(), timeout=10)
    grandchild = int(child.log_path.read_text().split()[0])
    support.stop([child], grace=0.5)
    assert child.process.poll() is not None
    support.wait_until(lambda: not _running(grandchild), timeout=5)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
