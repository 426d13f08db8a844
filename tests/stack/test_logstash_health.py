"""Logstash's declared health check against a stand-in of its API in each pipeline state.

The stand-in (tests/support/standins.py, FakeLogstash) answers as elastic/logstash 8.19 does:
`GET /` 200 whatever the pipeline, `GET /_health_report` 200 with the pipeline's state from
logstash-core/src/main/java/org/logstash/health/PipelineIndicator.java, and every path behind
the login `api.auth.type: basic` asks (webserver.rb). The check runs for real in a shell here,
with the API's address, the GELF port and the curl config's path swapped for the test's: the
curl config is the declared upload itself, and the stand-in asks the declared login.
"""

from __future__ import annotations

import socket
import subprocess

import pytest

from lab.support import free_port
from stack.configs import logstash_api
from stack.settings import LOGSTASH_API_PORT, LOGSTASH_GELF_PORT
from tests.stack.captured import containers, declared_api_login, declared_under, upload
from tests.support.logstash_standin import start_logstash


def api_login() -> tuple[str, str]:
    """The login Logstash reads from the declared logstash.yml."""
    return declared_api_login(declared_under("default"))


def declared_logstash() -> dict:
    (logstash,) = (
        c for name, c in containers(declared_under("default")).items() if name.endswith("logstash")
    )
    return logstash


def declared_check() -> list[str]:
    return declared_logstash()["inputs"]["healthcheck"]["tests"]


@pytest.fixture
def curl_config(tmp_path):
    """The declared curl config upload, written where this test's check reads it."""
    local = tmp_path / "curlrc"
    local.write_text(upload(declared_logstash(), logstash_api.CURL_CONFIG_FILE))
    return local


def run_check(tests: list[str], curl_config, api_url: str, gelf_port: int) -> int:
    assert tests[0] == "CMD", tests
    command = [
        part.replace(f"http://localhost:{LOGSTASH_API_PORT}", api_url)
        .replace(f":{LOGSTASH_GELF_PORT:04X} ", f":{gelf_port:04X} ")
        .replace(logstash_api.CURL_CONFIG_FILE, str(curl_config))
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
def test_unhealthy_while_the_pipeline_is_not_running(state, gelf_socket, curl_config):
    server = start_logstash(state, api_login())
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert run_check(declared_check(), curl_config, url, gelf_socket) != 0
    finally:
        server.shutdown()
        server.server_close()


def test_unhealthy_while_gelf_is_not_listening(curl_config):
    server = start_logstash("RUNNING", api_login())
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert run_check(declared_check(), curl_config, url, free_port(socket.SOCK_STREAM)) != 0
    finally:
        server.shutdown()
        server.server_close()


def test_a_udp_socket_or_a_connection_on_the_port_is_not_listening(curl_config):
    """The input is TCP now: the old UDP socket, or a client connection whose local port
    happens to be the GELF port, must not pass for the input."""
    server = start_logstash("RUNNING", api_login())
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        udp.bind(("0.0.0.0", free_port(socket.SOCK_DGRAM)))
        assert run_check(declared_check(), curl_config, url, udp.getsockname()[1]) != 0
        client.connect(listener.getsockname())
        assert run_check(declared_check(), curl_config, url, client.getsockname()[1]) != 0
    finally:
        for sock in (udp, client, listener):
            sock.close()
        server.shutdown()
        server.server_close()


def test_healthy_once_the_pipeline_runs_and_gelf_listens(gelf_socket, curl_config):
    server = start_logstash("RUNNING", api_login())
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert run_check(declared_check(), curl_config, url, gelf_socket) == 0
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("login", [None, (logstash_api.USER, "another-Password1")])
def test_the_check_signs_in_and_a_refused_login_is_unhealthy(login, gelf_socket, curl_config):
    """The declared check passes against an API that asks the declared login (above); a
    curl config without it, or with another password, gets 401 and fails the check. The
    password is in the 0400 file, not in the command."""
    server = start_logstash("RUNNING", api_login())
    if login is None:
        curl_config.write_text("")
    else:
        curl_config.write_text(f'user = "{login[0]}:{login[1]}"\n')
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert run_check(declared_check(), curl_config, url, gelf_socket) != 0
        assert api_login()[1] not in " ".join(declared_check())
        assert server.logins == ([] if login is None else [login[0]])
    finally:
        server.shutdown()
        server.server_close()
