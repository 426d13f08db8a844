"""Logstash's declared health check against a stand-in of its API in each pipeline state.

The stand-in (tests/support/standins.py, FakeLogstash) answers as elastic/logstash 8.19 does:
`GET /` 200 whatever the pipeline, `GET /_health_report` 200 with the pipeline's state from
logstash-core/src/main/java/org/logstash/health/PipelineIndicator.java. The check runs for real
in a shell here, with the API's address and the GELF port swapped for the test's.
"""

from __future__ import annotations

import socket
import subprocess

import pytest

from lab.support import free_port
from stack.settings import LOGSTASH_API_PORT, LOGSTASH_GELF_PORT
from tests.stack.captured import containers, declared_under
from tests.support.standins import start_logstash


def declared_check() -> list[str]:
    (logstash,) = (
        c for name, c in containers(declared_under("default")).items() if name.endswith("logstash")
    )
    return logstash["inputs"]["healthcheck"]["tests"]


def run_check(tests: list[str], api_url: str, gelf_port: int) -> int:
    assert tests[0] == "CMD", tests
    command = [
        part.replace(f"http://localhost:{LOGSTASH_API_PORT}", api_url).replace(
            f":{LOGSTASH_GELF_PORT:04X} ", f":{gelf_port:04X} "
        )
        for part in tests[1:]
    ]
    return subprocess.run(command, capture_output=True, timeout=20).returncode


@pytest.fixture
def gelf_socket():
    """A listening TCP socket, as the gelf input's TCPServer on 0.0.0.0."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("0.0.0.0", free_port(socket.SOCK_STREAM)))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.parametrize("state", [None, "LOADING", "TERMINATED", "FINISHED", "UNKNOWN"])
def test_unhealthy_while_the_pipeline_is_not_running(state, gelf_socket):
    server = start_logstash(state)
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert run_check(declared_check(), url, gelf_socket) != 0
    finally:
        server.shutdown()
        server.server_close()


def test_unhealthy_while_gelf_is_not_listening():
    server = start_logstash("RUNNING")
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert run_check(declared_check(), url, free_port(socket.SOCK_STREAM)) != 0
    finally:
        server.shutdown()
        server.server_close()


def test_a_udp_socket_or_a_connection_on_the_port_is_not_listening():
    """The input is TCP now: the old UDP socket, or a client connection whose local port
    happens to be the GELF port, must not pass for the input."""
    server = start_logstash("RUNNING")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        udp.bind(("0.0.0.0", free_port(socket.SOCK_DGRAM)))
        assert run_check(declared_check(), url, udp.getsockname()[1]) != 0
        client.connect(listener.getsockname())
        assert run_check(declared_check(), url, client.getsockname()[1]) != 0
    finally:
        for sock in (udp, client, listener):
            sock.close()
        server.shutdown()
        server.server_close()


def test_healthy_once_the_pipeline_runs_and_gelf_listens(gelf_socket):
    server = start_logstash("RUNNING")
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert run_check(declared_check(), url, gelf_socket) == 0
    finally:
        server.shutdown()
        server.server_close()
